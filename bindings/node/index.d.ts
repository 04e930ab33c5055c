// Types of `@acs/engine`: the generated declarations of the native module
// (native.d.ts), the engine's JSON shapes (types.d.ts), and what index.js adds.
import type { BatchResult, Decision, Input } from './types'

export * from './types'
export { Engine, Watch, Evaluation, Batch, lint, explainCode, runTests } from './native'

declare module './native' {
  interface Engine {
    /** `evaluate` for host functions that return Promises; decides exactly as `evaluate`. */
    evaluateAsync(input: Input): Promise<Decision>
    /** Many inputs on every core; one result per input, in order. */
    evaluateBatch(
      inputs: Array<Input | string | Uint8Array>,
      options?: { threads?: number },
    ): Promise<BatchResult[]>
  }
}

/** Every error the engine raises on purpose; `code` says which. */
export declare class AcsError extends Error {
  code: string
}
/** Rules that do not load. */
export declare class RulesError extends AcsError {
  /** `invalid`, `io`, `too_large`, `not_utf8`, `no_rules_files`, `not_a_file`, `bundle`, `kind_changed`. */
  kind: string
  file?: string
  line?: number
  column?: number
  diagnostics: import('./types').Diagnostic[]
}
/** An input the engine cannot read (`not_an_object`, `not_json`, `too_deep`, `too_large`, `json`, `duplicate_key`). */
export declare class InputError extends AcsError {
  /** Where in an input object, for `not_json` and `too_deep`. */
  path?: string
}
/** The watcher could not start. */
export declare class WatchError extends AcsError {}
