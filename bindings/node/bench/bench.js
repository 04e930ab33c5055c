'use strict'
// Side by side in one run: the 25 shipped rules over the representative inputs, decided by
// this binding (evaluate, evaluateJson, evaluateAsync), by a jexl baseline written the way
// the Node service did it (npm jexl + js-yaml, each rule's condition compiled once and run
// against { event, ctx, system, db }), and by the Rust engine itself (for reference).
//
//   node bench/bench.js [rounds]       (after `npm run build`; BENCHMARKS.md has figures)
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const jexl = require('jexl')
const yaml = require('js-yaml')
const { Engine } = require('..')

const repo = path.resolve(__dirname, '..', '..', '..')
const rulesFile = path.join(repo, 'rules', 'acs_rules_top25.yaml')
const rounds = Number(process.argv[2] || 200000)

// The Rust engine's figure on this machine, now, and the cases it benches (the same inputs).
const casesFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'acs-bench-')), 'cases.jsonl')
execFileSync('cargo', ['build', '-q', '--release', '-p', 'acs-benches', '--example', 'node_reference'], { cwd: repo, stdio: 'inherit' })
const rust = JSON.parse(
  execFileSync(path.join(repo, 'target', 'release', 'examples', 'node_reference'), [casesFile, String(rounds)], { encoding: 'utf8' }),
)
const lines = fs.readFileSync(casesFile, 'utf8').split('\n').filter(Boolean)
const inputs = lines.map((l) => JSON.parse(l))
const buffers = lines.map((l) => Buffer.from(l))

// The host functions of the benches (benches/lib.rs `host_functions`), in JS.
const functions = {
  'db.count.trucksByOperator': (id) => (id === 'OP-1' ? 12 : 3),
  'db.count.driverAccountsByDevice': () => 1,
  overlappingAcceptExists: () => false,
  'rate.limitExceeded': () => false,
  'priceEstimator.lowerBound': (booking) => (booking && typeof booking.distanceKm === 'number' ? booking.distanceKm * 70 : null),
  'operator.maintenanceWindowActive': (id) => {
    if (typeof id !== 'string') throw new Error('operatorId must be a string')
    return false
  },
}
const asyncFunctions = Object.fromEntries(Object.entries(functions).map(([name, f]) => [name, async (...args) => f(...args)]))

const engine = Engine.fromPath(rulesFile, { functions })
const asyncEngine = Engine.fromPath(rulesFile, { functions: asyncFunctions })

// The baseline: what the Node service ran before ACS.
const j = new jexl.Jexl()
for (const [name, f] of Object.entries(functions)) j.addFunction(name, f)
j.addFunction('now', () => Date.now())
const compiled = yaml.load(fs.readFileSync(rulesFile, 'utf8')).map((rule) => {
  try {
    return { rule, expr: j.compile(rule.condition) }
  } catch (error) {
    return { rule, error }
  }
})
function jexlEvaluate(input) {
  const context = { event: input.event, ctx: input.ctx, system: input.system, db: input.db }
  const matched = []
  for (const { rule, expr } of compiled) {
    if (!expr) continue
    try {
      if (expr.evalSync(context)) matched.push(rule.id)
    } catch {
      // the original logged and moved on
    }
  }
  return matched
}

function time(name, n, fn) {
  for (let i = 0; i < Math.min(n, 20000); i++) fn(i) // warm up
  const samples = new Float64Array(Math.min(n, 100000))
  const every = Math.max(1, Math.floor(n / samples.length))
  let s = 0
  const started = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    if (i % every === 0 && s < samples.length) {
      const t0 = process.hrtime.bigint()
      fn(i)
      samples[s++] = Number(process.hrtime.bigint() - t0)
    } else {
      fn(i)
    }
  }
  const total = Number(process.hrtime.bigint() - started)
  const sorted = Array.from(samples.subarray(0, s)).sort((a, b) => a - b)
  return { name, ns: total / n, perSecond: (n * 1e9) / total, p50: sorted[Math.floor(s * 0.5)], p99: sorted[Math.floor(s * 0.99)] }
}

async function timeAsync(name, n) {
  const samples = []
  const started = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    await asyncEngine.evaluateAsync(inputs[i % inputs.length])
    if (i % 10 === 0) samples.push(Number(process.hrtime.bigint() - t0))
  }
  const total = Number(process.hrtime.bigint() - started)
  samples.sort((a, b) => a - b)
  return { name, ns: total / n, perSecond: (n * 1e9) / total, p50: samples[Math.floor(samples.length * 0.5)], p99: samples[Math.floor(samples.length * 0.99)] }
}

async function main() {
  const results = []
  const jexlRounds = Math.max(2000, Math.floor(rounds / 20))
  results.push(time('jexl baseline (evalSync, 25 rules)', jexlRounds, (i) => jexlEvaluate(inputs[i % inputs.length])))
  results.push(time('binding evaluate(object)', rounds, (i) => engine.evaluate(inputs[i % inputs.length])))
  results.push(time('binding evaluateJson(Buffer)', rounds, (i) => engine.evaluateJson(buffers[i % buffers.length])))
  results.push(time('binding evaluateJson(string)', rounds, (i) => engine.evaluateJson(lines[i % lines.length])))
  results.push(await timeAsync('binding evaluateAsync (async host functions)', Math.max(2000, Math.floor(rounds / 10))))
  const base = results[0].perSecond
  console.log(`node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0].model}), ${new Date().toISOString()}`)
  console.log(`${inputs.length} representative inputs, round-robin; ${rounds} rounds (jexl ${jexlRounds})`)
  console.log('| path | ns/call | calls/s | p50 ns | p99 ns | vs jexl |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const r of results) {
    console.log(`| ${r.name} | ${r.ns.toFixed(0)} | ${r.perSecond.toFixed(0)} | ${r.p50} | ${r.p99} | ${(r.perSecond / base).toFixed(1)}x |`)
  }
  console.log(`| Rust Engine::evaluate (reference) | ${rust.evaluate_ns.toFixed(0)} | ${(1e9 / rust.evaluate_ns).toFixed(0)} | | | ${(1e9 / rust.evaluate_ns / base).toFixed(1)}x |`)
  console.log(`| Rust Engine::evaluate_json (reference) | ${rust.evaluate_json_ns.toFixed(0)} | ${(1e9 / rust.evaluate_json_ns).toFixed(0)} | | | ${(1e9 / rust.evaluate_json_ns / base).toFixed(1)}x |`)
  const bytesPath = results[2].ns / rust.evaluate_json_ns
  console.log(`evaluateJson(Buffer) / Rust evaluate_json: ${bytesPath.toFixed(2)}x; evaluate / jexl: ${(results[1].perSecond / base).toFixed(1)}x`)
  fs.rmSync(path.dirname(casesFile), { recursive: true, force: true })
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
