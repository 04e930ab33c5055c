'use strict'
// worker_threads: several workers, each with its own engine reloading on its own.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Worker } = require('node:worker_threads')

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const fs = require('node:fs')
const path = require('node:path')
const { Engine, RulesError } = require(workerData.binding)
const rule = (id) => "- id: " + id + "\\n  priority: 1\\n  severity: low\\n  description: d\\n  condition: event.type == 'x'\\n  action: [ { flagWatchlist: {} } ]\\n  audit: false\\n"
const file = path.join(workerData.dir, 'rules.yaml')
fs.writeFileSync(file, rule(workerData.name + '_V1'))
const engine = Engine.fromPath(workerData.dir, { functions: { 'w.name': () => workerData.name } })
const watch = engine.watch()
let typed = false
try { Engine.fromString('- id: [') } catch (e) { typed = e instanceof RulesError }
fs.writeFileSync(file, rule(workerData.name + '_V2'))
const deadline = Date.now() + 20000
const poll = setInterval(() => {
  const ids = engine.ruleIds
  if (ids[0] === workerData.name + '_V2' || Date.now() > deadline) {
    clearInterval(poll)
    watch.close()
    const decided = engine.evaluate({ event: { type: 'x' } }).matched.map((m) => m.id)
    parentPort.postMessage({ ids, decided, typed, generation: engine.status().generation })
  }
}, 20)
`

test('workers each load, watch and reload their own rules', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-workers-'))
  try {
    const names = ['W1', 'W2', 'W3']
    const results = await Promise.all(
      names.map((name) => {
        const dir = path.join(root, name)
        fs.mkdirSync(dir)
        return new Promise((resolve, reject) => {
          const worker = new Worker(WORKER, { eval: true, workerData: { dir, name, binding: path.resolve(__dirname, '..') } })
          worker.once('message', resolve)
          worker.once('error', reject)
        })
      }),
    )
    results.forEach((result, i) => {
      const name = names[i]
      assert.deepEqual(result.ids, [`${name}_V2`], `worker ${name} reloaded its own rules`)
      assert.deepEqual(result.decided, [`${name}_V2`])
      assert.equal(result.typed, true, 'error classes are registered in each worker')
      assert.ok(result.generation >= 2)
    })
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
})

test('an engine in a worker that exits without closing anything does not take the process down', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-worker-exit-'))
  try {
    fs.writeFileSync(path.join(dir, 'rules.yaml'), "- id: A\n  priority: 1\n  severity: low\n  description: d\n  condition: event.type == 'x'\n  action: [ { flagWatchlist: {} } ]\n  audit: false\n")
    const code = await new Promise((resolve, reject) => {
      const worker = new Worker(
        `const { Engine } = require(${JSON.stringify(path.resolve(__dirname, '..'))}); const e = Engine.fromPath(${JSON.stringify(dir)}, { functions: { f: () => 1 } }); e.onReload(() => {}); e.watch(); e.evaluate({ event: { type: 'x' } })`,
        { eval: true },
      )
      worker.once('exit', resolve)
      worker.once('error', reject)
    })
    assert.equal(code, 0)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
