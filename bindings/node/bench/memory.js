'use strict'
// Memory over a long run: one million evaluations, then 10,000 engines created and
// dropped (with JS host functions, a reload callback and a watcher each), printing the
// resident set size along the way. Flat means nothing leaks per call or per engine.
//
//   node --expose-gc bench/memory.js [evaluations] [engines]
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine } = require('..')

const repo = path.resolve(__dirname, '..', '..', '..')
const rules = path.join(repo, 'rules')
const evaluations = Number(process.argv[2] || 1000000)
const engines = Number(process.argv[3] || 10000)
const gc = global.gc || (() => {})
const mib = () => (process.memoryUsage().rss / 1048576).toFixed(1)

const inputs = fs
  .readdirSync(path.join(rules, 'examples'))
  .filter((f) => f.endsWith('.json') && f !== 'stubs.json')
  .map((f) => JSON.parse(fs.readFileSync(path.join(rules, 'examples', f), 'utf8')))
const functions = { 'db.count.trucksByOperator': () => 3, 'priceEstimator.lowerBound': () => 1 }

async function main() {
const engine = Engine.fromPath(rules, { functions })
const rows = []
for (let i = 0; i <= evaluations; i++) {
  if (i % (evaluations / 5) === 0) {
    gc()
    rows.push(['evaluations', i, mib()])
  }
  if (i < evaluations) engine.evaluate(inputs[i % inputs.length])
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-memory-'))
// Removed however the bench ends, a failed assertion included.
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
fs.copyFileSync(path.join(rules, 'acs_rules_top25.yaml'), path.join(dir, 'rules.yaml'))
for (let i = 0; i <= engines; i++) {
  if (i % (engines / 5) === 0) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
    rows.push(['engines created and dropped', i, mib()])
  }
  if (i % 100 === 0) {
    // Node-API finalizers run after a collection, from the event loop: a service's loop
    // turns between requests; this loop must yield for them.
    await new Promise((resolve) => setImmediate(resolve))
  }
  if (i < engines) {
    const e = Engine.fromPath(dir, { functions })
    e.onReload(() => {})
    const w = e.watch()
    e.evaluate(inputs[i % inputs.length])
    w.close()
  }
}
console.log(`node ${process.version}, ${new Date().toISOString()}`)
console.log('| phase | count | RSS MiB |')
console.log('|---|---:|---:|')
for (const [phase, count, rss] of rows) console.log(`| ${phase} | ${count} | ${rss} |`)
}

main()
