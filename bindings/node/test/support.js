'use strict'
// Shared by the tests: where the repository's rules and CLI are, and how to ask the CLI.
const path = require('node:path')
const fs = require('node:fs')
const { execFileSync } = require('node:child_process')

const repo = path.resolve(__dirname, '..', '..', '..')
const rules = path.join(repo, 'rules')
const examples = path.join(rules, 'examples')
const stubs = path.join(examples, 'stubs.json')

/** The `acs` binary test.sh built (ACS_BIN overrides). */
function acsBinary() {
  const candidates = [process.env.ACS_BIN, path.join(repo, 'target', 'debug', 'acs'), path.join(repo, 'target', 'release', 'acs')]
  const found = candidates.find((c) => c && fs.existsSync(c))
  if (!found) throw new Error('no acs binary: run `cargo build -p acs-cli` (test.sh does)')
  return found
}

/** The decision `acs eval` prints for `inputFile`, parsed. */
function cliDecision(inputFile, extra = []) {
  const out = execFileSync(acsBinary(), ['eval', '--rules', rules, ...extra, inputFile], { encoding: 'utf8' })
  return JSON.parse(out)
}

/** The example inputs shipped beside the rules (`*.json` but the stub table). */
function exampleInputs() {
  return fs
    .readdirSync(examples)
    .filter((f) => f.endsWith('.json') && f !== 'stubs.json')
    .map((f) => path.join(examples, f))
}

/** A new Ed25519 key for an audit log in `dir` (`acs bundle keygen`); its public half is `<key>.pub`. */
function auditKey(dir) {
  const key = path.join(dir, 'audit.key')
  execFileSync(acsBinary(), ['bundle', 'keygen', key])
  return key
}

/** The decision records of the audit log `log`, once `acs audit verify` has found it sound. */
function auditDecisions(log, key) {
  const verified = execFileSync(acsBinary(), ['audit', 'verify', log, '--key', `${key}.pub`], { encoding: 'utf8' })
  if (!verified.startsWith('ok: ')) throw new Error(`acs audit verify: ${verified}`)
  return execFileSync(acsBinary(), ['audit', 'export', log], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .filter((record) => record.kind === 'decision')
}

module.exports = { repo, rules, examples, stubs, acsBinary, cliDecision, exampleInputs, auditKey, auditDecisions }
