'use strict'
// evaluateAsync: Promises awaited together, each distinct call once, the same decision as
// evaluate with the same answers; and evaluateBatch on every core.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { Engine } = require('..')
const { rules, stubs, exampleInputs } = require('./support')

const TWO_CALLS = `
- id: A
  priority: 2
  severity: high
  description: d
  condition: slow.count(event.id) > 1
  action: [ { flagWatchlist: { n: "{{slow.count(event.id)}}" } } ]
  audit: false
- id: B
  priority: 1
  severity: low
  description: d
  condition: slow.flag(event.id) == true && slow.count(event.other) > 5
  action: [ { flagWatchlist: {} } ]
  audit: false
`
const sleep = (ms, value) => new Promise((resolve) => setTimeout(() => resolve(value), ms))

test('independent calls are issued together, each distinct call once, while the event loop runs', async () => {
  const log = []
  let inFlight = 0
  let most = 0
  const track = (name, value) => async (arg) => {
    log.push(`${name}(${arg})`)
    inFlight++
    most = Math.max(most, inFlight)
    await sleep(30)
    inFlight--
    return value(arg)
  }
  const engine = Engine.fromString(TWO_CALLS, {
    functions: { 'slow.count': track('count', (id) => (id === 'x' ? 2 : 9)), 'slow.flag': track('flag', () => true) },
  })
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  const decision = await engine.evaluateAsync({ event: { id: 'x', other: 'y' } })
  clearInterval(timer)
  assert.deepEqual(decision.matched.map((m) => m.id).sort(), ['A', 'B'])
  assert.equal(decision.matched.find((m) => m.id === 'A').actions[0].params.n, 2)
  assert.deepEqual(log, ['count(x)', 'flag(x)', 'count(y)'], 'count(x) asked once though three places use it')
  assert.equal(most, 2, 'the two independent calls of round one ran together')
  assert.ok(ticks >= 5, `timers kept firing while the calls were awaited (${ticks})`)
})

test('a dependent call is never made when the call before it rules it out', async () => {
  const log = []
  const engine = Engine.fromString(TWO_CALLS, {
    functions: {
      'slow.count': async (id) => (log.push(id), 0),
      'slow.flag': async () => false,
    },
  })
  const decision = await engine.evaluateAsync({ event: { id: 'x', other: 'y' } })
  assert.deepEqual(decision.matched, [])
  assert.deepEqual(log, ['x'])
})

test('a rejecting Promise or a throw is an error of its rule only, worded as evaluate words it', async () => {
  const failing = { 'slow.count': () => { throw new Error('db down') }, 'slow.flag': () => true }
  const rejecting = { 'slow.count': async () => { throw new Error('db down') }, 'slow.flag': async () => true }
  const input = { event: { id: 'x', other: 'y' } }
  const sync = Engine.fromString(TWO_CALLS, { functions: failing }).evaluate(input)
  const viaAsync = await Engine.fromString(TWO_CALLS, { functions: rejecting }).evaluateAsync(input)
  assert.equal(sync.errors.length, 2)
  assert.deepEqual(viaAsync.errors, sync.errors)
  assert.deepEqual(viaAsync, sync)
})

test('the async decision equals the sync one on generated rules and answers', async () => {
  let seed = 7
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
  const pick = (list) => list[Math.floor(random() * list.length)]
  for (let round = 0; round < 60; round++) {
    const conditions = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
      pick([
        'f.a(event.k) > 2',
        'f.b(event.k, ctx.n) == true || f.a(ctx.n) < 1',
        "f.c(event.k) == 'x' && f.a(f.a(event.k)) > 3",
        '!(f.b(ctx.n, ctx.n) == false) && event.k != null',
        "f.c(ctx.n) in ['x', 'y']",
      ]),
    )
    const yamlText = conditions
      .map((c, i) => `- id: R${i}\n  priority: ${i}\n  severity: low\n  description: d\n  condition: "${c}"\n  action: [ { flagWatchlist: { v: "{{f.a(event.k)}}" } } ]\n  audit: false\n`)
      .join('')
    const table = new Map()
    const answer = (name, args) => {
      const key = name + JSON.stringify(args)
      if (!table.has(key)) table.set(key, random() < 0.15 ? new Error(`no ${key}`) : pick([0, 1, 2, 5, 'x', 'y', true, false, null]))
      return table.get(key)
    }
    const sync = {}
    const asyncFns = {}
    for (const name of ['f.a', 'f.b', 'f.c']) {
      sync[name] = (...args) => {
        const a = answer(name, args)
        if (a instanceof Error) throw a
        return a
      }
      asyncFns[name] = async (...args) => {
        await sleep(random() < 0.5 ? 0 : 1)
        return sync[name](...args)
      }
    }
    const input = { event: { k: pick([1, 2, 'x', null]) }, ctx: { n: pick([0, 3, 'y']) } }
    const expected = Engine.fromString(yamlText, { functions: sync }).evaluate(input)
    const actual = await Engine.fromString(yamlText, { functions: asyncFns }).evaluateAsync(input)
    assert.deepEqual(actual, expected, `round ${round}: ${yamlText}\n${JSON.stringify(input)}`)
  }
})

test('evaluateAsync decides every example as evaluate does with the stub table', async () => {
  const engine = Engine.fromPath(rules, { stubs })
  for (const file of exampleInputs()) {
    const input = JSON.parse(fs.readFileSync(file, 'utf8'))
    assert.deepEqual(await engine.evaluateAsync(input), engine.evaluate(input), path.basename(file))
  }
})

test('evaluateBatch: one result per input, in order, errors per input, host functions awaited', async () => {
  const engine = Engine.fromPath(rules, { stubs })
  const inputs = exampleInputs().map((f) => JSON.parse(fs.readFileSync(f, 'utf8')))
  const many = []
  for (let i = 0; i < 400; i++) many.push(inputs[i % inputs.length])
  const mixed = [...many, 42, '{"event": ', JSON.stringify(inputs[0]), Buffer.from(JSON.stringify(inputs[1])), { event: { type: 'bid.create' }, ctx: { userRole: 1n << 80n } }]
  const results = await engine.evaluateBatch(mixed, { threads: 2 })
  assert.equal(results.length, mixed.length)
  many.forEach((input, i) => assert.deepEqual(results[i], { decision: engine.evaluate(input) }, `input ${i}`))
  const tail = results.slice(many.length)
  assert.equal(tail[0].error.code, 'not_an_object')
  assert.equal(tail[1].error.code, 'json')
  assert.deepEqual(tail[2], { decision: engine.evaluate(inputs[0]) })
  assert.deepEqual(tail[3], { decision: engine.evaluate(inputs[1]) })
  assert.equal(tail[4].error.code, 'not_json')

  const js = Engine.fromString(TWO_CALLS, { functions: { 'slow.count': async (id) => (id === 'x' ? 2 : 9), 'slow.flag': async () => true } })
  const batch = await js.evaluateBatch([{ event: { id: 'x', other: 'y' } }, { event: { id: 'z' } }])
  assert.deepEqual(batch[0].decision.matched.map((m) => m.id).sort(), ['A', 'B'])
  assert.deepEqual(batch[1].decision.matched.map((m) => m.id).sort(), ['A', 'B'])
  await assert.rejects(() => js.evaluateBatch('nope'), TypeError)
})
