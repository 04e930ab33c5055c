'use strict'
// The audit log records the decisions evaluateAsync makes (the engine's resumable
// evaluation), as it records evaluate's: the audit: true rules' matches, with their calls.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Engine } = require('..')
const { acsBinary } = require('./support')

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
    const key = path.join(dir, 'audit.key')
    execFileSync(acsBinary(), ['bundle', 'keygen', key])
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

    const verified = execFileSync(acsBinary(), ['audit', 'verify', log, '--key', `${key}.pub`], { encoding: 'utf8' })
    assert.match(verified, /^ok: /)
    const records = execFileSync(acsBinary(), ['audit', 'export', log], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
    const decisions = records.filter((r) => r.kind === 'decision')
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
