// ESM entry: the same module as `require('@acs/engine')`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const acs = require('./index.js')

export const { Engine, Watch, Evaluation, Batch, lint, explainCode, runTests, AcsError, RulesError, InputError, WatchError } = acs
export default acs
