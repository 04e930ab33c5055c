'use strict'
// The input and decision crossings of index.js: an input object is cut to the fields the
// plan reads and written as JSON text by generated code, and the decision comes back as
// a number or JSON without its hash. Each must give exactly what the engine's own readers
// and writers give.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Engine } = require('..')
const { rules, stubs, exampleInputs } = require('./support')

const engine = Engine.fromPath(rules, { stubs })
const recorded = fs
  .readFileSync(path.join(rules, 'examples', 'recorded.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .flatMap((line) => {
    try {
      const input = JSON.parse(line)
      return input !== null && typeof input === 'object' && !Array.isArray(input) ? [input] : []
    } catch {
      return [] // a deliberately broken line of the replay example
    }
  })
const documents = [...exampleInputs().map((file) => JSON.parse(fs.readFileSync(file, 'utf8'))), ...recorded]

test('decisions are the engine JSON text for text: fields, order, hash', () => {
  assert.ok(documents.length > 20)
  for (const input of documents) {
    const text = JSON.stringify(input)
    const expected = engine.evaluateJsonText(text)
    assert.equal(JSON.stringify(engine.evaluate(input)), expected)
    assert.equal(JSON.stringify(engine.evaluateJson(text)), expected)
    assert.equal(JSON.stringify(engine.evaluateJson(Buffer.from(text))), expected)
  }
})

// A small seeded generator: the same inputs on every run.
function generator(seed) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const pick = (items) => items[Math.floor(next() * items.length)]
  return { next, pick }
}

const strings = ['', 'VERIFIED', 'OP-1', 'say "hi"', 'back\\slash', 'line\nbreak', 'tab\t', '\u0001', 'é', '😀', 'bid.create', '+91 98480 22338']
const numbers = [0, -0, 1, -1, 0.6, 1e21, 1e20, 1e-7, 12000, 46500.5, 2 ** 53, -(2 ** 53), 2 ** 63, -(2 ** 63), 2 ** 64, 17.4012]

function randomValue(rng, depth) {
  const kind = rng.next()
  if (kind < 0.3) return rng.pick(strings)
  if (kind < 0.55) return rng.pick(numbers)
  if (kind < 0.62) return rng.next() < 0.5
  if (kind < 0.67) return null
  if (kind < 0.72 || depth > 3) return undefined
  if (kind < 0.85) return Array.from({ length: Math.floor(rng.next() * 4) }, () => randomValue(rng, depth + 1) ?? null)
  const object = {}
  for (let i = Math.floor(rng.next() * 4); i > 0; i--) object[rng.pick(['a', 'id', 'lat', 'x y', '"'])] = randomValue(rng, depth + 1)
  return object
}

test('generated inputs over every field the rules read decide as their JSON text does', () => {
  const reads = engine.inputReads()
  const types = Object.keys(reads.types)
  const paths = [...new Set(Object.values(reads.types).flat().map((p) => JSON.stringify(p)))].map((p) => JSON.parse(p))
  const rng = generator(20261205)
  for (let n = 0; n < 3000; n++) {
    const base = rng.pick(documents)
    const input = JSON.parse(JSON.stringify(base))
    input.event = input.event && typeof input.event === 'object' ? input.event : {}
    if (rng.next() < 0.9) input.event.type = rng.pick(types)
    for (let k = Math.floor(rng.next() * 6); k > 0; k--) {
      const at = rng.pick(paths)
      let node = input
      for (let i = 0; i < at.length - 1; i++) {
        if (node[at[i]] === null || typeof node[at[i]] !== 'object' || rng.next() < 0.1) {
          node[at[i]] = rng.next() < 0.9 ? {} : randomValue(rng, 3)
        }
        node = node[at[i]]
        if (node === null || typeof node !== 'object') break
      }
      if (node !== null && typeof node === 'object') node[at[at.length - 1]] = randomValue(rng, 0)
    }
    const text = JSON.stringify(input)
    assert.deepEqual(engine.evaluate(input), engine.evaluateJson(text), text)
  }
})

const probe = Engine.fromString(`
- id: PROBE
  priority: 1
  severity: low
  description: reads fields named like Object.prototype's and a string that may hold a lone surrogate
  condition: event.constructor == 'x' || ctx.toString == 'y' || event.s == 'a\uFFFD' || event.o.k == 'b\uFFFD'
  action: [ { flagWatchlist: {} } ]
  audit: false
`)
const fires = (input) => probe.evaluate(input).matched.length === 1

test('only an input own fields are read, as the engine object reader reads them', () => {
  assert.equal(fires({ event: {} }), false, 'Object.prototype.constructor is not a field')
  assert.equal(fires({ event: { constructor: 'x' } }), true)
  assert.equal(fires({ ctx: { toString: 'y' } }), true)
  assert.equal(fires(Object.assign(Object.create(null), { event: { constructor: 'x' } })), true)
  class Request {
    constructor() {
      this.event = { constructor: 'x' }
    }
  }
  assert.equal(fires(new Request()), true, 'a class instance is read by the native reader')
  Object.prototype.ctx = { toString: 'y' } // eslint-disable-line no-extend-native
  try {
    assert.equal(fires({ event: {} }), false, 'a polluted Object.prototype lends no fields')
  } finally {
    delete Object.prototype.ctx
  }
})

test('a lone surrogate, which JSON text cannot carry, reads as U+FFFD like any Node-API string', () => {
  assert.equal(fires({ event: { s: 'a\ud800' } }), true)
  assert.equal(fires({ event: { o: { k: 'b\udc00' } } }), true)
  assert.equal(fires({ event: { s: 'a\ud83d\ude00' } }), false, 'a surrogate pair is one character')
})

test('where code generation is disallowed the interpreted cut decides alike', () => {
  const script = `
    const { Engine } = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const engine = Engine.fromPath(${JSON.stringify(rules)}, { stubs: ${JSON.stringify(stubs)} })
    const inputs = JSON.parse(require('node:fs').readFileSync(0, 'utf8'))
    process.stdout.write(JSON.stringify(inputs.map((input) => engine.evaluate(input))))
  `
  const out = execFileSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', script], {
    input: JSON.stringify(documents),
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  })
  assert.deepEqual(JSON.parse(out), documents.map((input) => engine.evaluate(input)))
})

test('after a reload the decision carries the new plan generation and hash', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-crossing-'))
  try {
    const file = path.join(dir, 'rules.yaml')
    const rule = (value) => `
- id: LIMIT
  priority: 1
  severity: low
  description: a limit that changes
  condition: event.type == 'x' && event.n > ${value}
  action: [ { flagWatchlist: {} } ]
  audit: false
`
    fs.writeFileSync(file, rule(10))
    const reloading = Engine.fromPath(file)
    const input = { event: { type: 'x', n: 20 } }
    const before = reloading.evaluate(input)
    assert.equal(before.matched.length, 1)
    assert.equal(reloading.evaluateJson(JSON.stringify(input)).ruleset_hash, before.ruleset_hash)
    fs.writeFileSync(file, rule(100))
    const status = reloading.reload()
    for (const decision of [reloading.evaluateJson(JSON.stringify(input)), reloading.evaluate(input)]) {
      assert.equal(decision.matched.length, 0)
      assert.equal(decision.generation, status.generation)
      assert.equal(decision.ruleset_hash, status.ruleset_hash)
      assert.notEqual(decision.ruleset_hash, before.ruleset_hash)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
