'use strict'
// Careless and hostile inputs: a clear error each, never a crash, and the engine goes on.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Engine, InputError } = require('..')
const { rules } = require('./support')

const engine = Engine.fromPath(rules)
// Reads the fields the hostile values below sit in: only what the rules read is read.
const reader = Engine.fromString(`
- id: READS
  priority: 1
  severity: low
  description: reads the fields the tests put hostile values in
  condition: event.n == 1 || event.s == 1 || event.f == 1 || ctx.list != null || event.note == 'x' || event.self != null || event.d != null
  action: [ { flagWatchlist: {} } ]
  audit: false
`)
const fine = { event: { type: 'gps.ping' }, ctx: {}, system: {}, db: {} }
const isInputError = (code, pattern) => (e) => e instanceof InputError && e.code === code && (!pattern || pattern.test(e.message))

test('non-object inputs are refused, as the CLI refuses them', () => {
  for (const input of [42, 'x', null, [1, 2], true]) {
    assert.throws(() => engine.evaluate(input), isInputError('not_an_object'), String(input))
  }
  for (const json of ['42', '"x"', 'null', '[1,2]']) {
    assert.throws(() => engine.evaluateJson(json), isInputError('not_an_object'), json)
  }
  assert.throws(() => engine.evaluateJson('{"event": '), isInputError('json', /line 1/))
  assert.throws(() => engine.evaluateJson('{"a": 1, "a": 2}'), isInputError('duplicate_key'))
})

test('values JSON cannot hold are named with their place', () => {
  assert.throws(() => reader.evaluate({ event: { type: 'x', n: 1n << 80n } }), isInputError('not_json', /input\.event\.n.*BigInt/))
  assert.throws(() => reader.evaluate({ event: { s: Symbol('s') } }), isInputError('not_json', /input\.event\.s.*Symbol/))
  assert.throws(() => reader.evaluate({ event: { f() {} } }), isInputError('not_json', /function/))
  assert.throws(() => reader.evaluate({ ctx: { list: [1, NaN] } }), isInputError('not_json', /input\.ctx\.list\[1\]/))
  // What JSON.stringify would do quietly is done alike where it is harmless.
  assert.equal(engine.evaluate({ event: { type: 'gps.ping', gone: undefined }, ctx: {}, system: {}, db: {} }).verdict.outcome, 'allowed')
})

test('BigInts within 64 bits are exact integers', () => {
  const big = Engine.fromString(`
- id: EXACT
  priority: 1
  severity: low
  description: d
  condition: event.n == 9007199254740993
  action: [ { flagWatchlist: {} } ]
  audit: false
`)
  assert.equal(big.evaluate({ event: { n: 9007199254740993n } }).matched.length, 1)
  assert.equal(big.evaluate({ event: { n: 9007199254740992n } }).matched.length, 0)
  assert.equal(big.evaluateJson('{"event": {"n": 9007199254740993}}').matched.length, 1)
})

test('a cyclic object and a 100k-deep object stop at the depth limit', () => {
  const cyclic = { event: { type: 'x' } }
  cyclic.event.self = cyclic
  assert.throws(() => reader.evaluate(cyclic), isInputError('too_deep', /cyclic/))
  let deep = {}
  for (let i = 0; i < 100000; i++) deep = { d: deep }
  assert.throws(() => reader.evaluate({ event: { d: deep } }), isInputError('too_deep'))
  assert.throws(() => engine.evaluateJson('{"event":' + '['.repeat(100000) + ']'.repeat(100000) + '}'), InputError)
})

test('fields no rule reads are never read: a throwing getter there is not called', () => {
  let called = 0
  const input = {
    event: { type: 'gps.ping' },
    get unrelated() {
      called++
      throw new Error('never read')
    },
  }
  assert.equal(engine.evaluate(input).verdict.outcome, 'allowed')
  assert.equal(called, 0)
})

test('a getter that throws surfaces its own error', () => {
  const input = {
    get event() {
      throw new RangeError('getter says no')
    },
  }
  assert.throws(() => engine.evaluate(input), (e) => e instanceof RangeError && e.message === 'getter says no')
})

test('strings past 16 MiB are refused by the input limit', () => {
  const huge = 'x'.repeat(17 * 1024 * 1024)
  assert.throws(() => reader.evaluate({ event: { type: 'x', note: huge } }), isInputError('too_large'))
  assert.throws(() => engine.evaluateJson(`{"event":{"note":"${huge}"}}`), isInputError('too_large'))
})

test('after all of that the engine still decides', () => {
  assert.equal(engine.evaluate(fine).verdict.outcome, 'allowed')
  assert.equal(engine.evaluateJson(Buffer.from(JSON.stringify(fine))).verdict.outcome, 'allowed')
  assert.equal(engine.evaluateJson(new Uint8Array(Buffer.from(JSON.stringify(fine)))).verdict.outcome, 'allowed')
})
