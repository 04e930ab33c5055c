'use strict'
// Velocity counts in a real `redis-server` (test.sh installs it when missing; without it
// these tests fail, they do not skip), started on a free localhost port and killed
// afterwards: engines of the shipped bundle in two Node processes share exact counts of
// RF20's bid.modify counter (at once, and taking turns), and a Redis killed mid-test, or
// none listening, answers through the counter's failure policy (open).
const test = require('node:test')
const { after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { Engine } = require('..')
const { rules } = require('./support')

const bundle = path.join(rules, 'acs_rules_top25.yaml')
const RF20 = 'RF20_BID_FLOOD_RATE_LIMIT'
const change = (user) => ({ event: { type: 'bid.modify' }, ctx: { userId: user }, system: { config: { bidModifyRateLimit: 20 } } })

/** A port nothing listens on, as the kernel hands one out. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Whether a `PING` on `port` gets `+PONG` back. */
function pong(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      text += chunk
      if (text.includes('\r\n')) done(text.startsWith('+PONG'))
    })
  })
}

const servers = new Set()

/** Kills a server of `startRedis` and waits for it to exit. */
function stopRedis(server) {
  servers.delete(server)
  if (server.child.exitCode !== null || server.child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve())
    server.child.kill('SIGKILL')
  })
}

// Never leave a server running, whatever the tests did.
after(() => Promise.all([...servers].map(stopRedis)))

/** A `redis-server` of this file's own on a free port, answering PING. */
async function startRedis() {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const server = { port, url: `redis://127.0.0.1:${port}`, child }
  servers.add(server)
  let failure = null
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.once('error', (e) => {
    failure =
      e.code === 'ENOENT'
        ? new Error('redis-server is not installed: bindings/node/test.sh installs it (apt-get install redis-server)')
        : e
  })
  child.once('exit', (code, signal) => {
    failure ??= new Error(`redis-server exited (${code ?? signal}) before answering on port ${port}: ${stderr}`)
  })
  for (let attempt = 0; attempt < 200; attempt++) {
    if (failure) break
    if (await pong(port)) return server
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  await stopRedis(server)
  throw failure ?? new Error(`redis-server did not answer on port ${port}`)
}

// One replica: loads the shipped bundle against Redis, then answers the lines of its
// standard input, one JSON line each: `eval N USER` makes N bid changes of USER and says
// what each decided; `metrics` gives its engine's metrics text.
const REPLICA = `
const [binding, bundle, url] = process.argv.slice(1)
const { Engine } = require(binding)
const readline = require('node:readline')
const engine = Engine.fromPath(bundle, { velocity: { redis: url, budget_ms: 2000 } })
const say = (value) => process.stdout.write(JSON.stringify(value) + '\\n')
say('ready')
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, count, userId] = line.split(' ')
  if (command === 'metrics') return say(engine.metrics())
  const change = { event: { type: 'bid.modify' }, ctx: { userId }, system: { config: { bidModifyRateLimit: 20 } } }
  const decisions = []
  for (let n = 0; n < Number(count); n++) {
    const decision = engine.evaluate(change)
    decisions.push({ matched: decision.matched.map((m) => m.id), errors: decision.errors })
  }
  say(decisions)
})
`

/** A replica process: `ask(line)` resolves with its answer; `ready` once its engine loaded. */
function replica(url) {
  const child = spawn(process.execPath, ['-e', REPLICA, path.resolve(__dirname, '..'), bundle, url], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdin.on('error', () => {}) // a write to a dead replica: its exit says why
  const waiting = [] // the [resolve, reject] of each answer not yet read, in order
  let died = null
  const die = (error) => {
    died = error
    for (const [, reject] of waiting.splice(0)) reject(error)
  }
  child.once('error', die)
  child.once('exit', (code, signal) => die(new Error(`replica exited (${code ?? signal}): ${stderr}`)))
  let buffered = ''
  child.stdout.on('data', (chunk) => {
    buffered += chunk
    let end
    while ((end = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, end)
      buffered = buffered.slice(end + 1)
      const [resolve] = waiting.shift()
      resolve(JSON.parse(line))
    }
  })
  const answer = () => new Promise((resolve, reject) => (died ? reject(died) : waiting.push([resolve, reject])))
  const ready = answer()
  return {
    child,
    ready,
    ask: (line) => {
      const answered = answer()
      child.stdin.write(line + '\n')
      return answered
    },
  }
}

/** The value of a metric line `name{backend="redis"} value` in Prometheus text. */
function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{backend="redis"} `))
  assert.ok(line, `no ${name}{backend="redis"} line in:\n${text}`)
  return Number(line.split(' ')[1])
}

/** Checks the replicas' metrics: `changes` round trips each, none timed out, failed or fell back. */
async function assertRedisMetrics(replicas, changes) {
  for (const [i, r] of replicas.entries()) {
    const metrics = await r.ask('metrics')
    // One round trip per evaluation, each within the budget, none answered by the policy.
    assert.equal(metric(metrics, 'acs_velocity_round_trips_total'), changes, `replica ${i}:\n${metrics}`)
    assert.equal(metric(metrics, 'acs_velocity_latency_seconds_count'), changes, metrics)
    assert.equal(metric(metrics, 'acs_velocity_timeouts_total'), 0, metrics)
    assert.equal(metric(metrics, 'acs_velocity_errors_total'), 0, metrics)
    assert.equal(metric(metrics, 'acs_velocity_fallbacks_total'), 0, metrics)
    assert.doesNotMatch(metrics, /backend="local"/)
  }
}

test('two processes share one Redis count: of 30 concurrent bid changes, the 21st to the 30th are throttled', async () => {
  const redis = await startRedis()
  const replicas = [replica(redis.url), replica(redis.url)]
  try {
    await Promise.all(replicas.map((r) => r.ready))
    // Both are loaded: each makes its 15 changes at the same time as the other.
    const results = await Promise.all(replicas.map((r) => r.ask('eval 15 U-NODE')))

    let throttled = 0
    for (const [i, decisions] of results.entries()) {
      assert.equal(decisions.length, 15)
      // Each process's count only grows: once RF20 matched, every later change matches.
      let seen = false
      for (const [n, d] of decisions.entries()) {
        assert.deepEqual(d.errors, [], `replica ${i}, change ${n + 1}`)
        if (d.matched.length > 0) {
          assert.deepEqual(d.matched, [RF20], `replica ${i}, change ${n + 1}`)
          seen = true
          throttled++
        } else {
          assert.equal(seen, false, `replica ${i}, change ${n + 1}: not throttled after a throttled one`)
        }
      }
    }
    // 20 changes a minute are allowed, whichever process made them: changes 21..30 are not.
    assert.equal(throttled, 10)
    await assertRedisMetrics(replicas, 15)

    // A third engine, in this process, reads the same count: the 31st change is throttled,
    // another user's first is not.
    const engine = Engine.fromPath(bundle, { velocity: { redis: redis.url, budget_ms: 2000 } })
    assert.deepEqual(engine.evaluate(change('U-NODE')).matched.map((m) => m.id), [RF20])
    assert.deepEqual(engine.evaluate(change('U-OTHER')).matched, [])
    assert.equal(metric(engine.metrics(), 'acs_velocity_round_trips_total'), 2)
  } finally {
    for (const r of replicas) r.child.kill('SIGKILL')
    await stopRedis(redis)
  }
})

test('two processes taking turns: the 21st change, made by the first process, is the first throttled', async () => {
  const redis = await startRedis()
  const replicas = [replica(redis.url), replica(redis.url)]
  try {
    await Promise.all(replicas.map((r) => r.ready))
    const throttled = []
    for (let n = 1; n <= 24; n++) {
      // Odd changes by the first process, even ones by the second.
      const [decision] = await replicas[(n - 1) % 2].ask('eval 1 U-TURNS')
      assert.deepEqual(decision.errors, [], `change ${n}`)
      if (decision.matched.length > 0) {
        assert.deepEqual(decision.matched, [RF20], `change ${n}`)
        throttled.push(n)
      }
    }
    assert.deepEqual(throttled, [21, 22, 23, 24])
    await assertRedisMetrics(replicas, 12)
  } finally {
    for (const r of replicas) r.child.kill('SIGKILL')
    await stopRedis(redis)
  }
})

test('a Redis killed mid-test fails open: no throw, no hang, RF20 does not fire and says why', async () => {
  const redis = await startRedis()
  try {
    const engine = Engine.fromPath(bundle, { velocity: { redis: redis.url, budget_ms: 50 } })
    for (let n = 1; n <= 20; n++) {
      const decision = engine.evaluate(change('U-DOWN'))
      assert.deepEqual([decision.matched, decision.errors], [[], []], `change ${n}`)
    }
    assert.deepEqual(engine.evaluate(change('U-DOWN')).matched.map((m) => m.id), [RF20], 'the 21st, Redis up')

    await stopRedis(redis)
    // The 22nd and 23rd changes: the count is unknown, so the shipped counter's default
    // policy (open) keeps RF20 from firing, and the decision says why.
    for (const n of [22, 23]) {
      const decision = engine.evaluate(change('U-DOWN'))
      assert.deepEqual(decision.matched, [], `change ${n}, Redis down`)
      assert.equal(decision.errors.length, 1, JSON.stringify(decision.errors))
      assert.equal(decision.errors[0].rule_id, RF20)
      assert.match(decision.errors[0].message, /^counter `bid\.modify` is unknown \(failing open\): velocity store: /)
    }
    const metrics = engine.metrics()
    assert.equal(metric(metrics, 'acs_velocity_round_trips_total'), 23, metrics)
    assert.equal(metric(metrics, 'acs_velocity_errors_total') + metric(metrics, 'acs_velocity_timeouts_total'), 2, metrics)
  } finally {
    await stopRedis(redis)
  }
})

test('an engine pointed at a port where nothing listens starts and fails open', async () => {
  const port = await freePort()
  const engine = Engine.fromPath(bundle, { velocity: { redis: `redis://127.0.0.1:${port}`, budget_ms: 50 } })
  const decision = engine.evaluate(change('U-NOWHERE'))
  assert.deepEqual(decision.matched, [])
  assert.deepEqual(decision.errors.map((e) => e.rule_id), [RF20])
  assert.match(decision.errors[0].message, /^counter `bid\.modify` is unknown \(failing open\): velocity store: /)
  assert.match(engine.metrics(), /acs_velocity_errors_total\{backend="redis"\} 1|acs_velocity_timeouts_total\{backend="redis"\} 1/)
})
