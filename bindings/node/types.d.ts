// The shapes the engine hands to JavaScript: its serde types, field for field, exactly
// as `acs eval` and the other commands print them as JSON (snake_case included).

/** An input document: the four roots the rules read. */
export interface Input {
  event?: { type?: string; [field: string]: unknown }
  ctx?: Record<string, unknown>
  system?: Record<string, unknown>
  db?: Record<string, unknown>
  [other: string]: unknown
}

/** A JS host function: any JSON-able value, or a Promise of one (for `evaluateAsync`). */
export type HostFunction = (...args: any[]) => unknown

/** Overrides of the engine's limits (`Limits` in acs-engine), each a whole number. */
export interface Limits {
  maxRulesFileBytes?: number
  maxConditionBytes?: number
  maxNesting?: number
  maxInputBytes?: number
  maxInputDepth?: number
  maxRenderedBytes?: number
}

export interface EngineOptions {
  /** Host functions by dotted name: `{ 'db.count.trucksByOperator': (id) => 12 }`. */
  functions?: Record<string, HostFunction>
  /** Path of a stub table (`{"name": [[[args...], result], ...]}`), as `acs eval --functions`; `functions` win on equal names. */
  stubs?: string
  limits?: Limits
  /** Path of an Ed25519 public key file: only bundles signed with it load. */
  publicKey?: string
  /** Record decisions in a tamper-evident audit log (`acs_engine::AuditConfig`: `{ dir, key, record_all, fsync, overflow, redact, ... }`; docs/AUDIT.md). */
  audit?: Record<string, unknown>
  /** Where velocity counters keep their counts (docs/VELOCITY.md): in the process by default. */
  velocity?: VelocityOptions
}

export interface VelocityOptions {
  /** `redis://HOST:PORT[/DB]`: counts shared with every process pointed at that server. */
  redis?: string
  /** The longest an evaluation waits for Redis, in milliseconds (default 5); then each counter's failure policy answers. */
  budget_ms?: number
  /** Prefix of the keys written to Redis (default `acs:v:`). */
  prefix?: string
}

export interface Location {
  file: string
  line: number
  column: number
}

export type Verdict =
  | { outcome: 'allowed' }
  | { outcome: 'rejected'; rule_id: string; code: string | null; message: string | null }

export interface Action {
  name: string
  params: Record<string, unknown>
}

export interface RuleMatch {
  id: string
  priority: number
  severity: 'low' | 'medium' | 'high' | 'critical'
  audit: boolean
  actions: Action[]
}

export interface RuleError {
  rule_id: string
  message: string
  location: Location | null
}

export interface Decision {
  verdict: Verdict
  matched: RuleMatch[]
  shadow_matched: RuleMatch[]
  errors: RuleError[]
  rules_evaluated: number
  generation: number
  ruleset_hash: string
  /** Present (true) when auditing is on and this decision's record could not be queued. */
  audit_unavailable?: boolean
}

/** One input's outcome in `evaluateBatch`. */
export type BatchResult = { decision: Decision } | { error: { code: string; message: string } }

export interface Diagnostic {
  code: string
  severity: 'error' | 'warning'
  message: string
  location: Location | null
  rule_id: string | null
  help: string | null
  excerpt: { line_text: string; column: number; width: number } | null
}

export interface ReloadFailure {
  generation: number
  at: string
  message: string
  diagnostics: Diagnostic[]
  [field: string]: unknown
}

export interface WatchStatus {
  alive: boolean
  last_event_at: string | null
  [field: string]: unknown
}

export interface Status {
  generation: number
  ruleset_hash: string
  rule_count: number
  loaded_at: string
  source: string
  last_error: ReloadFailure | null
  overrides: Record<string, boolean>
  subscriber_failures: number
  watch: WatchStatus | null
}

export type ReloadEvent =
  | { outcome: 'loaded'; generation: number; rule_count: number; ruleset_hash: string }
  | { outcome: 'unchanged'; generation: number }
  | ({ outcome: 'failed' } & ReloadFailure)

export type RuleSwitch = 'applied' | 'pending'

export interface RuleCounters {
  id: string
  evaluations: number
  matches: number
  errors: number
}

export interface MetricsSnapshot {
  generation: number
  evaluations: number
  rules: RuleCounters[]
  [field: string]: unknown
}

export interface ExplainedNode {
  text: string
  location: Location | null
  status: string
  value?: unknown
  missing?: boolean
  children?: ExplainedNode[]
  [field: string]: unknown
}

export interface RuleExplanation {
  id: string
  priority: number
  severity: string
  shadow: boolean
  outcome: string
  location: Location | null
  condition: ExplainedNode
  [field: string]: unknown
}

export interface Explanation {
  event_type: string | null
  rules: RuleExplanation[]
  [field: string]: unknown
}

/** One finding, flat, for an editor or a CI annotation. */
export interface Finding {
  code: string
  severity: 'error' | 'warning'
  message: string
  file: string | null
  line: number | null
  column: number | null
  rule_id: string | null
  help: string | null
}

export interface LintReport {
  files: string[]
  rule_count: number
  diagnostics: Diagnostic[]
}

export interface LintResult {
  config: string | null
  errors: number
  warnings: number
  reports: LintReport[]
  findings: Finding[]
  /** Whether the gate fails (any error; warnings too with `denyWarnings`). */
  failed: boolean
}

/** What `runTests` reports: each rule test file and each of its tests. */
export interface TestReport {
  files: Array<{
    name: string
    tests: Array<{ name: string; passed: boolean; location: Location; differences: unknown[]; [field: string]: unknown }>
    [field: string]: unknown
  }>
  [field: string]: unknown
}
