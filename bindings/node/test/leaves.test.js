'use strict'
// The leaf crossing `evaluate` uses (index.js writes the values at the plan's read paths
// into a Float64Array and one string; the engine reads them in place): numbers read as
// their JSON text reads, strings and containers arrive whole, a layout of a replaced plan
// is refused and read again, bad slots are a TypeError, and a host function may call
// back into the same engine mid-evaluation.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Engine } = require('..')

const RULES = `
- id: SEES
  priority: 10
  severity: low
  description: renders what it reads, below objects and whole
  condition: "event.type == 'x'"
  action:
    - emitEvent: { n: "{{event.a.n}}", s: "{{event.a.s}} {{ctx.s}}", o: "{{ctx.o}}", b: "{{event.a.b}}", z: "{{event.a.z}}" }
  audit: false
- id: BIG
  priority: 9
  severity: low
  description: compares numbers a double cannot tell apart as text would
  condition: "event.a.n == 9223372036854775807 || event.a.n > 1e20 || event.a.n == -0"
  action: [ { flagWatchlist: { n: "{{event.a.n}}" } } ]
  audit: false
`

test('every kind of value at a leaf decides as its JSON text does', () => {
  const engine = Engine.fromString(RULES)
  const values = [0, -0, 3, 0.1, -7.5, 2 ** 53, 2 ** 63, -(2 ** 63), 2 ** 64, 1e20, 1e21, 5e-324, 'é😀', '', 'say "hi"\n', true, false, null, undefined, [1, 'a', null, { k: -0 }], {}, { deep: { er: [2 ** 60] } }]
  for (const n of values) {
    for (const o of values) {
      const input = { event: { type: 'x', a: { n, s: typeof n === 'string' ? n : 'x', b: o, z: n } }, ctx: { s: 'c', o } }
      assert.deepEqual(engine.evaluate(input), engine.evaluateJson(JSON.stringify(input)), JSON.stringify(input))
    }
  }
  // Not an object on the way: the paths below it are absent, as in the JSON text.
  for (const a of ['text', 7, [1, 2], null, true]) {
    const input = { event: { type: 'x', a }, ctx: {} }
    assert.deepEqual(engine.evaluate(input), engine.evaluateJson(JSON.stringify(input)))
  }
})

test('a layout of a replaced plan is refused, then read again', () => {
  const engine = Engine.fromString(RULES)
  const reads = engine.inputReads()
  const layout = reads.layouts.indexOf('x') + 1
  const paths = reads.types.x
  const slots = new Float64Array(2 * paths.length)
  const at = paths.findIndex((p) => p.join('.') === 'event.type')
  slots[2 * at] = 5 // a string
  slots[2 * at + 1] = 1
  assert.equal(typeof engine.decideLeaves(layout, slots, 'x', reads.generation), 'string')
  assert.equal(engine.decideLeaves(layout, slots, 'x', reads.generation + 1), null)
  assert.equal(engine.decideLeaves(99, slots, 'x', reads.generation), null)
  engine.reload()
  assert.equal(engine.decideLeaves(layout, slots, 'x', reads.generation), null)
  // evaluate takes the new plan's layouts by itself.
  const decision = engine.evaluate({ event: { type: 'x', a: { n: 1 } } })
  assert.equal(decision.generation, reads.generation + 1)
  assert.deepEqual(decision.matched.map((m) => m.id), ['SEES'])
})

test('slots and strings that do not agree are a TypeError, never a crash', () => {
  const engine = Engine.fromString(RULES)
  const reads = engine.inputReads()
  const layout = reads.layouts.indexOf('x') + 1
  const count = reads.types.x.length
  const bad = [
    [new Float64Array(2 * count).fill(5), ''], // strings past the end
    [new Float64Array(2 * count).fill(9), ''], // an unknown tag
    [new Float64Array(1), ''], // too few slots
    [Float64Array.from({ length: 2 * count }, (_, i) => (i % 2 ? -1 : 5)), 'abc'], // a negative length
  ]
  for (const [slots, strings] of bad) {
    assert.throws(() => engine.decideLeaves(layout, slots, strings, reads.generation), TypeError)
  }
  assert.throws(() => engine.decideLeaves(layout, [1, 2], '', reads.generation))
  const error = (() => {
    const slots = new Float64Array(2 * count)
    const i = reads.types.x.findIndex((p) => p.join('.') === 'event.a.n')
    slots[2 * i] = 4 // a number
    slots[2 * i + 1] = NaN
    try {
      engine.decideLeaves(layout, slots, '', reads.generation)
    } catch (e) {
      return e
    }
  })()
  assert.equal(error.code, 'not_json')
  assert.match(error.message, /event\.a\.n/)
  assert.equal(engine.evaluate({ event: { type: 'x' } }).matched.length, 1)
})

test('a host function may evaluate with the same engine, and reload it, mid-evaluation', () => {
  let engine
  let inner
  engine = Engine.fromString(
    `
- id: CALLS
  priority: 1
  severity: low
  description: asks the host
  condition: "event.type == 'outer' && db.again(event.n) > 0"
  action: [ { flagWatchlist: { n: "{{event.n}}" } } ]
  audit: false
- id: INNER
  priority: 1
  severity: low
  description: the inner input's rule
  condition: "event.type == 'inner'"
  action: []
  audit: false
`,
    {
      functions: {
        'db.again': (n) => {
          if (n === 2) engine.reload()
          inner = engine.evaluate({ event: { type: 'inner' } })
          return 1
        },
      },
    },
  )
  const outer = engine.evaluate({ event: { type: 'outer', n: 1 } })
  assert.deepEqual(outer.matched.map((m) => m.id), ['CALLS'])
  assert.deepEqual(inner.matched.map((m) => m.id), ['INNER'])
  // A reload inside: the outer decision is the plan's that started it, whole; the inner
  // one, and the next, the new plan's.
  const before = engine.status().generation
  const again = engine.evaluate({ event: { type: 'outer', n: 2 } })
  assert.deepEqual(again.matched.map((m) => m.id), ['CALLS'])
  assert.equal(again.generation, before)
  assert.equal(inner.generation, before + 1)
  assert.equal(engine.evaluate({ event: { type: 'inner' } }).generation, before + 1)
})
