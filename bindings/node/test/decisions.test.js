'use strict'
// The binding decides exactly as the CLI: every shipped example, and every rule test.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Engine, runTests } = require('..')
const { rules, stubs, acsBinary, cliDecision, exampleInputs, repo } = require('./support')

// Decisions name the rules file as the engine was given it; the CLI gets the same path.
test('every example decides as `acs eval` does, through evaluate and evaluateJson', () => {
  const engine = Engine.fromPath(rules, { stubs })
  const inputs = exampleInputs()
  assert.ok(inputs.length >= 4, 'the examples are there')
  for (const file of inputs) {
    const expected = cliDecision(file, ['--functions', stubs])
    const text = fs.readFileSync(file)
    assert.deepEqual(engine.evaluate(JSON.parse(text)), expected, `evaluate ${path.basename(file)}`)
    assert.deepEqual(engine.evaluateJson(text), expected, `evaluateJson(Buffer) ${path.basename(file)}`)
    assert.deepEqual(engine.evaluateJson(text.toString('utf8')), expected, `evaluateJson(string) ${path.basename(file)}`)
  }
})

test('every line of the recorded traffic decides as `acs eval` does', () => {
  const engine = Engine.fromPath(rules, { stubs })
  const lines = fs.readFileSync(path.join(rules, 'examples', 'recorded.jsonl'), 'utf8').split('\n').filter((l) => l.trim())
  assert.ok(lines.length > 10)
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'acs-node-'))
  try {
    lines.slice(0, 40).forEach((line, i) => {
      let input
      try {
        input = JSON.parse(line)
      } catch {
        return // a deliberately broken line of the replay example
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input)) return
      const file = path.join(dir, `${i}.json`)
      fs.writeFileSync(file, line)
      assert.deepEqual(engine.evaluate(input), cliDecision(file, ['--functions', stubs]), `line ${i + 1}`)
    })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('every rule test in rules/tests passes through the binding, with the report `acs test` prints', () => {
  const report = runTests(path.join(rules, 'tests'))
  const cases = report.files.flatMap((f) => f.tests)
  assert.ok(cases.length >= 50, `the rule tests ran (${cases.length})`)
  const failed = cases.filter((t) => !t.passed).map((t) => t.name)
  assert.deepEqual(failed, [])
  const cli = JSON.parse(
    execFileSync(acsBinary(), ['test', '--format', 'json', path.join(rules, 'tests')], { encoding: 'utf8', cwd: repo }),
  )
  const strip = (r) => r.files.flatMap((f) => f.tests.map((t) => [t.name, t.passed, t.differences]))
  assert.deepEqual(strip(report), strip(cli))
})
