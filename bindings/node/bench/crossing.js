'use strict'
// Where the time of one `evaluate(object)` goes, per representative input, in one run:
// each row removes one part of the crossing, so the differences between columns are
// the parts' costs.
//
//   node bench/crossing.js [rounds]       (after `npm run build`; BENCHMARKS.md has figures)
//
// - evaluate:         the whole call: cut the object to the fields the plan reads, write
//                     them as JSON, decide natively, build the decision object
// - json(cut):        evaluateJson on that cut text made beforehand: no cut
// - compact(cut):     decideCompact on the cut text: no decision object built in JS
// - compact stubs:    the same with host calls answered natively (a stub table with the
//                     same answers) instead of by JS functions
// - parse:            JSON.parse of the decision's text alone
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine } = require('..')
const { rulesFile, rustReference, functions, recordStubs } = require('./support')

const rounds = Number(process.argv[2] || 50000)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-crossing-'))
// Removed however the bench ends, a failed assertion included.
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
const { lines } = rustReference(path.join(dir, 'cases.jsonl'), 1)
const inputs = lines.map((l) => JSON.parse(l))
const engine = Engine.fromPath(rulesFile, { functions })
const stubbed = Engine.fromPath(rulesFile, { stubs: recordStubs(inputs, path.join(dir, 'stubs.json')) })

// The cut the binding makes, written here the plain way (a bench may be slow to set up).
const reads = engine.inputReads()
function cut(input) {
  const paths = reads.types[input.event.type] ?? reads.other
  const out = {}
  for (const p of paths) {
    let source = input
    let target = out
    for (let i = 0; i < p.length && source !== null && typeof source === 'object' && Object.hasOwn(source, p[i]); i++) {
      if (i === p.length - 1 || typeof source[p[i]] !== 'object' || source[p[i]] === null) {
        target[p[i]] = source[p[i]]
        break
      }
      target = target[p[i]] ??= {}
      source = source[p[i]]
    }
  }
  return JSON.stringify(out)
}

function time(fn) {
  for (let i = 0; i < Math.min(rounds, 5000); i++) fn()
  const started = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) fn()
  return Number(process.hrtime.bigint() - started) / rounds
}

console.log(`node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0].model}), ${new Date().toISOString()}, ${rounds} rounds per cell`)
console.log('| input | evaluate | json(cut) | compact(cut) | compact stubs | parse | decision |')
console.log('|---|---:|---:|---:|---:|---:|---|')
const totals = [0, 0, 0, 0, 0]
for (const input of inputs) {
  const text = cut(input)
  const generation = reads.generation
  const decisionText = engine.evaluateJsonText(text)
  if (JSON.stringify(stubbed.evaluate(input)) !== JSON.stringify(engine.evaluate(input))) throw new Error('the stub table answers differently')
  const row = [
    time(() => engine.evaluate(input)),
    time(() => engine.evaluateJson(text)),
    time(() => engine.decideCompact(text, generation)),
    time(() => stubbed.decideCompact(text, generation)),
    time(() => JSON.parse(decisionText)),
  ]
  row.forEach((v, i) => (totals[i] += v / inputs.length))
  const outcome = JSON.parse(decisionText)
  const kind = outcome.matched.length ? `${outcome.verdict.outcome}, ${outcome.matched.length} matched` : outcome.verdict.outcome
  console.log(`| ${input.event.type} | ${row.map((v) => v.toFixed(0)).join(' | ')} | ${kind} |`)
}
console.log(`| **mean** | ${totals.map((v) => v.toFixed(0)).join(' | ')} | |`)
