'use strict'
// Every entry of the API, with the shapes and errors a caller sees.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const acs = require('..')
const { Engine, RulesError, InputError, AcsError, lint, explainCode } = acs
const { rules, examples } = require('./support')

const RULE = `
- id: BIG_BID
  priority: 10
  severity: high
  description: a bid larger than the operator's trucks can carry
  condition: event.type == 'bid.create' && db.count.trucksByOperator(event.operator.id) < event.bid.trucks
  action:
    - rejectRequest: { code: TOO_BIG, message: "{{event.operator.id}} has too few trucks" }
  audit: true
`
const bid = (trucks, operator = 'OP-1') => ({ event: { type: 'bid.create', bid: { trucks }, operator: { id: operator } } })

test('fromString with a JS host function decides with its answers', () => {
  const calls = []
  const engine = Engine.fromString(RULE, {
    functions: {
      'db.count.trucksByOperator': (id) => {
        calls.push(id)
        return 3
      },
    },
  })
  const decision = engine.evaluate(bid(5))
  assert.equal(decision.verdict.outcome, 'rejected')
  assert.equal(decision.verdict.code, 'TOO_BIG')
  assert.equal(decision.verdict.message, 'OP-1 has too few trucks')
  assert.deepEqual(decision.matched.map((m) => m.id), ['BIG_BID'])
  assert.equal(decision.matched[0].audit, true)
  assert.deepEqual(calls, ['OP-1'])
  assert.equal(engine.evaluate(bid(2)).verdict.outcome, 'allowed')
  assert.deepEqual(engine.functionNames, ['db.count.trucksByOperator'])
  assert.deepEqual(engine.ruleIds, ['BIG_BID'])
})

test('host functions get their arguments as JSON would give them: numbers as numbers, any count', () => {
  const seen = []
  const record = (...args) => {
    seen.push(args)
    return true
  }
  const engine = Engine.fromString(
    `
- id: ARGS
  priority: 1
  severity: low
  description: calls with scalars, with now(), with an object, with more than eight arguments, with a huge integer
  condition: >-
    f.scalars(event.n, event.s, event.b, event.x, 2.5, now()) && f.object(event.o)
    && f.many(1, 2, 3, 4, 5, 6, 7, 8, 9, 'ten') && f.huge(event.huge)
  action: [ { flagWatchlist: {} } ]
  audit: false
`,
    { functions: { 'f.scalars': record, 'f.object': record, 'f.many': record, 'f.huge': record } },
  )
  const input = { event: { n: 12, s: 'x', b: true, x: null, o: { k: [1, 'two'] }, huge: 2n ** 60n } }
  assert.equal(engine.evaluate(input).matched.length, 1)
  const [scalars, object, many, huge] = seen
  assert.deepEqual(scalars.slice(0, 5), [12, 'x', true, null, 2.5])
  assert.equal(typeof scalars[5], 'number', 'now() is a number of milliseconds')
  assert.ok(Math.abs(scalars[5] - Date.now()) < 60_000)
  assert.deepEqual(object, [{ k: [1, 'two'] }])
  assert.deepEqual(many, [1, 2, 3, 4, 5, 6, 7, 8, 9, 'ten'])
  assert.deepEqual(huge, [2n ** 60n], 'an integer beyond 2^53 stays exact, as a BigInt')
})

test('a host function that throws is an error of its rule; the other rules still run', () => {
  const engine = Engine.fromString(
    RULE +
      `
- id: ALWAYS
  priority: 1
  severity: low
  description: d
  condition: event.type == 'bid.create'
  action: [ { flagWatchlist: {} } ]
  audit: false
`,
    { functions: { 'db.count.trucksByOperator': () => { throw new Error('db down') } } },
  )
  const decision = engine.evaluate(bid(5))
  assert.deepEqual(decision.matched.map((m) => m.id), ['ALWAYS'])
  assert.equal(decision.errors.length, 1)
  assert.equal(decision.errors[0].rule_id, 'BIG_BID')
  assert.match(decision.errors[0].message, /db down/)
  assert.equal(typeof decision.errors[0].location.line, 'number')
})

test('a Promise met by the synchronous evaluate is a clear rule error, not a wait', () => {
  const engine = Engine.fromString(RULE, { functions: { 'db.count.trucksByOperator': async () => 3 } })
  const decision = engine.evaluate(bid(5))
  assert.equal(decision.verdict.outcome, 'allowed')
  assert.match(decision.errors[0].message, /Promise.*evaluateAsync/)
})

test('rules that do not load throw RulesError with the place and every diagnostic', () => {
  let error
  try {
    Engine.fromString('- id: A\n  priority: 1\n  severity: high\n  description: d\n  condition: event.type ==\n  action: []\n  audit: false\n', { name: 'broken.yaml' })
  } catch (e) {
    error = e
  }
  assert.ok(error instanceof RulesError)
  assert.ok(error instanceof AcsError)
  assert.ok(error instanceof Error)
  assert.equal(error.name, 'RulesError')
  assert.equal(error.code, 'ACS101')
  assert.equal(error.kind, 'invalid')
  assert.equal(error.file, 'broken.yaml')
  assert.equal(error.line, 5)
  assert.equal(error.column, 27)
  assert.match(error.message, /\^/)
  assert.equal(error.diagnostics[0].code, 'ACS101')
  assert.throws(() => Engine.fromPath('/nonexistent/rules.yaml'), (e) => e instanceof RulesError && e.kind === 'io')
})

test('bad argument types are TypeErrors naming the argument', () => {
  assert.throws(() => Engine.fromPath(42), (e) => e instanceof TypeError && /path/.test(e.message))
  assert.throws(() => Engine.fromString(RULE, { functions: { 'db.count.trucksByOperator': 3 } }), (e) => e instanceof TypeError && /db\.count\.trucksByOperator/.test(e.message))
  assert.throws(() => Engine.fromString(RULE, { limits: { maxInputBytes: -1 } }), (e) => e instanceof TypeError && /maxInputBytes/.test(e.message))
  assert.throws(() => Engine.fromString(RULE, 'nope'), TypeError)
  const engine = Engine.fromString(RULE)
  assert.throws(() => engine.evaluateJson(42), (e) => e instanceof TypeError && /json/.test(e.message))
  assert.throws(() => lint(42), TypeError)
})

test('limits are the engine\'s, named in the error', () => {
  const engine = Engine.fromString(RULE, { limits: { maxInputBytes: 64 } })
  assert.throws(() => engine.evaluateJson(JSON.stringify(bid(1, 'x'.repeat(100)))), (e) => e instanceof InputError && e.code === 'too_large')
  assert.throws(() => engine.evaluate(bid(1, 'x'.repeat(100))), (e) => e instanceof InputError && e.code === 'too_large' && /limits\.maxInputBytes/.test(e.message))
})

test('status, metrics, the kill switch and explain', () => {
  const engine = Engine.fromPath(rules)
  const status = engine.status()
  assert.equal(status.generation, 1)
  assert.equal(status.rule_count, 25)
  assert.match(status.ruleset_hash, /^sha256:[0-9a-f]{64}$/)
  assert.equal(status.last_error, null)
  const input = JSON.parse(fs.readFileSync(path.join(examples, 'bid_create_kyc_missing.json'), 'utf8'))
  assert.equal(engine.evaluate(input).verdict.outcome, 'rejected')
  assert.equal(engine.setRuleEnabled('RF01_KYC_MANDATORY', false), 'applied')
  assert.equal(engine.evaluate(input).verdict.outcome, 'allowed')
  assert.deepEqual(engine.status().overrides, { RF01_KYC_MANDATORY: false })
  assert.equal(engine.setRuleEnabled('NOT_YET_SHIPPED', false), 'pending')
  engine.clearRuleOverride('RF01_KYC_MANDATORY')
  assert.equal(engine.evaluate(input).verdict.outcome, 'rejected')
  const text = engine.metrics()
  assert.match(text, /^# HELP acs_evaluations_total/m)
  assert.match(text, /acs_evaluations_total 3/)
  const snapshot = engine.metricsSnapshot()
  assert.equal(snapshot.evaluations, 3)
  const explanation = engine.explain(input)
  assert.equal(explanation.event_type, 'bid.create')
  const kyc = explanation.rules.find((r) => r.id === 'RF01_KYC_MANDATORY')
  assert.equal(kyc.outcome, 'matched')
  assert.equal(kyc.condition.value, true)
})

test('reload() swaps in the current files, and onReload hears it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-'))
  const file = path.join(dir, 'rules.yaml')
  fs.writeFileSync(file, RULE)
  try {
    const engine = Engine.fromPath(file, { functions: { 'db.count.trucksByOperator': () => 0 } })
    const events = []
    engine.onReload((event) => events.push(event))
    fs.writeFileSync(file, RULE.replace('BIG_BID', 'BIGGER_BID'))
    const status = engine.reload()
    assert.equal(status.generation, 2)
    assert.deepEqual(engine.ruleIds, ['BIGGER_BID'])
    fs.writeFileSync(file, 'not: [valid')
    assert.throws(() => engine.reload(), RulesError)
    assert.deepEqual(engine.ruleIds, ['BIGGER_BID'])
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.deepEqual(events.map((e) => e.outcome), ['loaded', 'failed'])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('lint returns every finding flat, with the file, line and column', () => {
  const result = lint(rules)
  assert.equal(result.errors, 0)
  assert.equal(result.failed, false)
  assert.match(result.config, /acs\.toml$/)
  assert.equal(result.reports[0].rule_count, 25)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-'))
  try {
    fs.writeFileSync(path.join(dir, 'r.yaml'), RULE.replace("event.type == 'bid.create'", "event.type == 'bid.create' && 1/0 > 1"))
    const bad = lint([path.join(dir, 'r.yaml')])
    assert.equal(bad.failed, true)
    const finding = bad.findings.find((f) => f.severity === 'error')
    assert.ok(finding, JSON.stringify(bad.findings))
    assert.match(finding.code, /^ACS\d{3}$/)
    assert.equal(finding.file, path.join(dir, 'r.yaml'))
    assert.equal(finding.line, 6)
    assert.equal(typeof finding.column, 'number')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  assert.match(explainCode('acs411'), /ACS411/)
  assert.equal(explainCode('NOPE'), null)
})

test('after a reload, inputs are cut for the new rules: a field only they read is read', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-'))
  const file = path.join(dir, 'rules.yaml')
  const reading = (field) => `
- id: READS_${field.toUpperCase()}
  priority: 1
  severity: low
  description: d
  condition: event.${field} == 1
  action: [ { flagWatchlist: {} } ]
  audit: false
`
  try {
    fs.writeFileSync(file, reading('a'))
    const engine = Engine.fromPath(file)
    const input = { event: { type: 'x', a: 1, b: 1 } }
    assert.deepEqual(engine.evaluate(input).matched.map((m) => m.id), ['READS_A'])
    fs.writeFileSync(file, reading('b'))
    engine.reload()
    assert.deepEqual(engine.evaluate(input).matched.map((m) => m.id), ['READS_B'])
    assert.deepEqual((await engine.evaluateAsync(input)).matched.map((m) => m.id), ['READS_B'])
    fs.writeFileSync(file, reading('a'))
    engine.reload()
    const [batched] = await engine.evaluateBatch([input])
    assert.deepEqual(batched.decision.matched.map((m) => m.id), ['READS_A'])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('options.audit records the decisions of audit: true rules in a log acs audit verifies', () => {
  const { auditKey, auditDecisions } = require('./support')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-audit-'))
  try {
    const key = auditKey(dir)
    const log = path.join(dir, 'log')
    const engine = Engine.fromPath(rules, { audit: { dir: log, key, redact: { remove: ['/ctx/userId'] } } })
    const input = JSON.parse(fs.readFileSync(path.join(examples, 'bid_create_kyc_missing.json'), 'utf8'))
    assert.equal(engine.evaluate(input).verdict.outcome, 'rejected')
    engine.auditFlush()
    const [decision] = auditDecisions(log, key)
    assert.equal(decision.matched[0].id, 'RF01_KYC_MANDATORY')
    assert.equal(decision.input.ctx.userId, undefined, 'the removed field is not in the recorded input')
    assert.equal(decision.input.ctx.userRole, 'operator')
    assert.throws(() => Engine.fromPath(rules, { audit: { dir: log } }), (e) => e instanceof TypeError && /key/.test(e.message))
    assert.throws(() => Engine.fromPath(rules).auditFlush(), (e) => e.code === 'audit')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a counter reads its key and instant from an object though no rule reads them', () => {
  // The binding copies only what the plan reads of an object: the counters' paths too.
  const rulesText = `
velocity:
  - { name: pays, events: [pay], key: ctx.userId, windows: [1m], time: event.at }
rules:
  - id: BURST
    priority: 1
    severity: low
    description: a third payment within a minute
    condition: "event.type == 'pay' && rate.limitExceeded(ctx.accountId, 'pays', 2)"
    action: [ { flagWatchlist: { reason: burst } } ]
    audit: false
`
  const engine = Engine.fromString(rulesText)
  const start = 1764800000000
  for (let i = 0; i < 4; i++) { // a payment every 40 s: never 3 within a minute
    const decision = engine.evaluate({ event: { type: 'pay', at: start + i * 40000 }, ctx: { userId: 'U-1', accountId: 'U-1' } })
    assert.deepEqual(decision.errors, [], `payment ${i}`)
    assert.deepEqual(decision.matched, [], `payment ${i}`)
  }
})

test('the shipped velocity rule counts in the process, and options.velocity is checked', () => {
  // RF20 reads the bid.modify counter the bundle declares: no host function needed.
  const engine = Engine.fromPath(path.join(rules, 'acs_rules_top25.yaml'), { velocity: {} })
  const change = { event: { type: 'bid.modify' }, ctx: { userId: 'U-NODE' }, system: { config: { bidModifyRateLimit: 20 } } }
  for (let n = 1; n <= 20; n++) {
    assert.deepEqual(engine.evaluate(change).matched, [], `change ${n}`)
  }
  assert.deepEqual(engine.evaluate(change).matched.map((m) => m.id), ['RF20_BID_FLOOD_RATE_LIMIT'])
  assert.match(engine.metrics(), /acs_velocity_keys\{backend="local"\} 1/)
  assert.throws(() => Engine.fromPath(path.join(rules, 'acs_rules_top25.yaml'), { velocity: { redsi: 'x' } }),
    (e) => e instanceof TypeError && /options\.velocity: unknown field `redsi`/.test(e.message))
  assert.throws(() => Engine.fromPath(path.join(rules, 'acs_rules_top25.yaml'), { velocity: { redis: 'not a url' } }),
    (e) => e instanceof TypeError && /options\.velocity/.test(e.message))
})
