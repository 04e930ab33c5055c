'use strict'
// Hot reload through real file changes, and a watcher that never holds the process.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Engine } = require('..')

const rule = (id) => `
- id: ${id}
  priority: 1
  severity: low
  description: d
  condition: event.type == 'x'
  action: [ { flagWatchlist: {} } ]
  audit: false
`

async function until(check, what) {
  const deadline = Date.now() + 20000
  while (Date.now() < deadline) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  assert.fail(`timed out waiting for ${what}`)
}

test('watch(): a valid change is served, a broken one is reported and the old rules keep serving', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-watch-'))
  const file = path.join(dir, 'rules.yaml')
  fs.writeFileSync(file, rule('FIRST'))
  const engine = Engine.fromPath(dir)
  const events = []
  engine.onReload((event) => events.push(event))
  const watch = engine.watch()
  try {
    assert.equal(watch.active, true)
    fs.writeFileSync(file, rule('SECOND'))
    await until(() => engine.ruleIds[0] === 'SECOND', 'the valid change')
    assert.equal(engine.evaluate({ event: { type: 'x' } }).matched[0].id, 'SECOND')
    fs.writeFileSync(file, rule('THIRD').replace("event.type == 'x'", "event.type == 'x' &&"))
    await until(() => engine.status().last_error !== null, 'the failure to be reported')
    const failure = engine.status().last_error
    assert.match(failure.message, new RegExp(`rules\\.yaml:6:\\d+`))
    assert.equal(failure.diagnostics[0].location.line, 6)
    assert.deepEqual(engine.ruleIds, ['SECOND'])
    assert.equal(engine.evaluate({ event: { type: 'x' } }).matched[0].id, 'SECOND')
    await until(() => events.some((e) => e.outcome === 'failed'), 'the failed event')
    assert.ok(events.some((e) => e.outcome === 'loaded'))
    assert.equal(engine.status().watch.alive, true)
  } finally {
    watch.close()
    watch.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  assert.equal(watch.active, false)
})

test('a process with a watcher and a reload callback still exits when its work is done', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-exit-'))
  fs.writeFileSync(path.join(dir, 'rules.yaml'), rule('ONLY'))
  try {
    const script = `
      const { Engine } = require(${JSON.stringify(path.resolve(__dirname, '..'))})
      const engine = Engine.fromPath(${JSON.stringify(dir)})
      engine.onReload(() => {})
      engine.watch()
      console.log(engine.ruleIds.join())
    `
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 })
    assert.equal(out.trim(), 'ONLY')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
