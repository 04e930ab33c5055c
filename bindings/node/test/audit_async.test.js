'use strict'
// The audit log records the decisions evaluateAsync makes (the engine's resumable
// evaluation), as it records evaluate's: the audit: true rules' matches, with their calls.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine } = require('..')
const { auditKey, auditDecisions } = require('./support')

const RISKY = `
- id: RISKY
  priority: 10
  severity: high
  description: a payer the score calls risky
  condition: "event.type == 'pay' && db.score(ctx.user) > 5"
  action:
    - rejectRequest: { code: RISK, message: "risk {{ctx.user}}" }
  audit: true
`
const sleep = (ms, value) => new Promise((resolve) => setTimeout(() => resolve(value), ms))

test('evaluateAsync records the decision of an audit: true rule, with its async call, in a log acs audit verifies', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-audit-async-'))
  try {
    const key = auditKey(dir)
    const log = path.join(dir, 'log')
    const asked = []
    const engine = Engine.fromString(RISKY, {
      functions: {
        'db.score': async (user) => {
          asked.push(user)
          return sleep(5, user === 'U-9' ? 9 : 1)
        },
      },
      audit: { dir: log, key, record_all: false },
    })
    const risky = await engine.evaluateAsync({ event: { type: 'pay' }, ctx: { user: 'U-9' } })
    const quiet = await engine.evaluateAsync({ event: { type: 'pay' }, ctx: { user: 'U-1' } })
    assert.deepEqual(asked, ['U-9', 'U-1'], 'the async host function answered both evaluations')
    assert.equal(risky.verdict.outcome, 'rejected')
    assert.deepEqual(risky.matched.map((m) => m.id), ['RISKY'])
    assert.equal(quiet.verdict.outcome, 'allowed')
    assert.deepEqual(quiet.matched, [])
    engine.auditFlush()

    const decisions = auditDecisions(log, key)
    // Only the matching decision: record_all is off and the other matched no rule.
    assert.equal(decisions.length, 1, `one decision recorded: ${JSON.stringify(decisions)}`)
    const [record] = decisions
    assert.deepEqual(record.calls, [{ name: 'db.score', args: ['U-9'], result: 9 }])
    assert.deepEqual(record.verdict, risky.verdict)
    assert.deepEqual(record.matched.map((m) => m.id), risky.matched.map((m) => m.id))
    assert.deepEqual(record.matched, risky.matched)
    assert.deepEqual(record.errors, [])
    assert.equal(record.ruleset_hash, risky.ruleset_hash)
    assert.equal(record.generation, risky.generation)
    assert.equal(record.input.ctx.user, 'U-9')
    assert.equal(record.decided_again, undefined, 'the writer decided it again the same')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

// A record's input serves replays against other rules, which may read any field: an
// engine that audits takes each input object whole, never cut to what its rules read.
test('an engine that audits records the whole input object, from evaluate, evaluateAsync and evaluateBatch', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-audit-whole-'))
  try {
    const key = auditKey(dir)
    const log = path.join(dir, 'log')
    const engine = Engine.fromString(RISKY, {
      functions: { 'db.score': (user) => (user === 'U-9' ? 9 : 1) },
      audit: { dir: log, key, record_all: true },
    })
    const input = (user) => ({
      event: { type: 'pay', amount: 12.5, channel: 'app' },
      ctx: { user, device: { id: 'D-7', os: 'android' } },
      system: { region: 'eu' },
    })
    const asyncEngine = Engine.fromString(RISKY, {
      functions: { 'db.score': async (user) => (user === 'U-9' ? 9 : 1) },
      audit: { dir: path.join(dir, 'log-async'), key, record_all: true },
    })
    const given = [input('U-9'), input('U-1'), input('U-2'), input('U-3')]
    engine.evaluate(given[0])
    const batch = await engine.evaluateBatch([given[1], given[2]])
    assert.equal(batch.length, 2)
    const awaited = await asyncEngine.evaluateAsync(given[3])
    assert.equal(awaited.verdict.outcome, 'allowed')
    engine.auditFlush()
    asyncEngine.auditFlush()
    const exported = (dirName) => auditDecisions(path.join(dir, dirName), key)
    const inputs = exported('log').map((r) => r.input)
    assert.equal(inputs.length, 3)
    const byUser = (a, b) => a.ctx.user.localeCompare(b.ctx.user)
    assert.deepEqual([...inputs].sort(byUser), given.slice(0, 3).sort(byUser))
    assert.deepEqual(exported('log-async').map((r) => r.input), [given[3]])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
