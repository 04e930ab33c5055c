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
const jexl = require('jexl')
const yaml = require('js-yaml')
const { Engine } = require('..')
const { rulesFile, rustReference, functions, recordStubs } = require('./support')

const rounds = Number(process.argv[2] || 200000)

// The Rust engine's figure on this machine, now, and the cases it benches (the same inputs).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-bench-'))
// Removed however the bench ends, a failed assertion included.
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
const { reference: rust, lines } = rustReference(path.join(dir, 'cases.jsonl'), rounds)
const inputs = lines.map((l) => JSON.parse(l))
const buffers = lines.map((l) => Buffer.from(l))
// The same answers as a stub table, answered inside the engine: the crossing without JS host calls.
const stubbed = Engine.fromPath(rulesFile, { stubs: recordStubs(inputs, path.join(dir, 'stubs.json')) })

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

// Noise on a shared machine comes in bursts, so the paths are timed interleaved: each of
// `REPEATS` passes runs every path for a chunk, and a path's figure is its median pass.
const REPEATS = 7
function timeChunk(n, fn, samples) {
  const every = Math.max(1, Math.floor(n / 2000))
  const started = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    if (i % every === 0) {
      const t0 = process.hrtime.bigint()
      fn(i)
      samples.push(Number(process.hrtime.bigint() - t0))
    } else {
      fn(i)
    }
  }
  return Number(process.hrtime.bigint() - started) / n
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

function summary(name, passes, samples) {
  const ns = median(passes)
  samples.sort((a, b) => a - b)
  return { name, ns, perSecond: 1e9 / ns, p50: samples[Math.floor(samples.length * 0.5)], p99: samples[Math.floor(samples.length * 0.99)], spread: `${Math.min(...passes).toFixed(0)}-${Math.max(...passes).toFixed(0)}` }
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
  const chunk = Math.max(1000, Math.floor(rounds / REPEATS))
  const paths = [
    ['jexl baseline (evalSync, 25 rules)', Math.max(200, Math.floor(chunk / 20)), (i) => jexlEvaluate(inputs[i % inputs.length])],
    ['binding evaluate(object)', chunk, (i) => engine.evaluate(inputs[i % inputs.length])],
    ['binding evaluateJson(Buffer)', chunk, (i) => engine.evaluateJson(buffers[i % buffers.length])],
    ['binding evaluateJson(string)', chunk, (i) => engine.evaluateJson(lines[i % lines.length])],
    ['binding evaluate(object), host calls answered natively (stub table)', chunk, (i) => stubbed.evaluate(inputs[i % inputs.length])],
    ['binding evaluateJson(Buffer), host calls answered natively (stub table)', chunk, (i) => stubbed.evaluateJson(buffers[i % buffers.length])],
  ]
  for (const [, n, fn] of paths) for (let i = 0; i < Math.min(n, 20000); i++) fn(i) // warm up
  const passes = paths.map(() => [])
  const samples = paths.map(() => [])
  const rustPasses = { evaluate_ns: [rust.evaluate_ns], evaluate_json_ns: [rust.evaluate_json_ns] }
  for (let pass = 0; pass < REPEATS; pass++) {
    paths.forEach(([, n, fn], k) => passes[k].push(timeChunk(n, fn, samples[k])))
    if (pass % 3 === 1) {
      const again = rustReference(path.join(dir, 'cases.jsonl'), chunk).reference
      rustPasses.evaluate_ns.push(again.evaluate_ns)
      rustPasses.evaluate_json_ns.push(again.evaluate_json_ns)
    }
  }
  rust.evaluate_ns = median(rustPasses.evaluate_ns)
  rust.evaluate_json_ns = median(rustPasses.evaluate_json_ns)
  const results = paths.map(([name], k) => summary(name, passes[k], samples[k]))
  results.push(await timeAsync('binding evaluateAsync (async host functions)', Math.max(2000, Math.floor(rounds / 10))))
  const base = results[0].perSecond
  console.log(`node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0].model}), ${new Date().toISOString()}`)
  console.log(`${inputs.length} representative inputs, round-robin; ${REPEATS} interleaved passes of ${chunk} calls (jexl ${paths[0][1]}), median pass`)
  console.log('| path | ns/call | calls/s | p50 ns | p99 ns | passes ns/call | vs jexl |')
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const r of results) {
    console.log(`| ${r.name} | ${r.ns.toFixed(0)} | ${r.perSecond.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.spread ?? ''} | ${(r.perSecond / base).toFixed(1)}x |`)
  }
  console.log(`| Rust Engine::evaluate (reference) | ${rust.evaluate_ns.toFixed(0)} | ${(1e9 / rust.evaluate_ns).toFixed(0)} | | | ${rustPasses.evaluate_ns.map((v) => v.toFixed(0)).join(', ')} | ${(1e9 / rust.evaluate_ns / base).toFixed(1)}x |`)
  console.log(`| Rust Engine::evaluate_json (reference) | ${rust.evaluate_json_ns.toFixed(0)} | ${(1e9 / rust.evaluate_json_ns).toFixed(0)} | | | ${rustPasses.evaluate_json_ns.map((v) => v.toFixed(0)).join(', ')} | ${(1e9 / rust.evaluate_json_ns / base).toFixed(1)}x |`)
  const bytesPath = results[2].ns / rust.evaluate_json_ns
  const nativeHost = results[5].ns / rust.evaluate_json_ns
  console.log(`evaluateJson(Buffer) / Rust evaluate_json: ${bytesPath.toFixed(2)}x with JS host functions, ${nativeHost.toFixed(2)}x with the stub table; evaluate / jexl: ${(results[1].perSecond / base).toFixed(1)}x`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
