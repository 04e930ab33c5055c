'use strict'
// What the benches share: the representative inputs (written by the Rust reference
// example, so both sides decide the same documents) and the JS host functions that
// answer as the Rust benches' `host_functions()` do, plus the same answers as a stub
// table, which the engine answers natively.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Engine } = require('..')

const repo = path.resolve(__dirname, '..', '..', '..')
const rulesFile = path.join(repo, 'rules', 'acs_rules_top25.yaml')

/** Build and run `benches/examples/node_reference`: it writes the cases to `casesFile`. */
function rustReference(casesFile, rounds) {
  execFileSync('cargo', ['build', '-q', '--release', '-p', 'acs-benches', '--example', 'node_reference'], { cwd: repo, stdio: 'inherit' })
  const out = execFileSync(path.join(repo, 'target', 'release', 'examples', 'node_reference'), [casesFile, String(rounds)], { encoding: 'utf8' })
  const lines = fs.readFileSync(casesFile, 'utf8').split('\n').filter(Boolean)
  return { reference: JSON.parse(out), lines }
}

// The host functions of the benches (benches/lib.rs `host_functions`), in JS; `now` is
// fixed so that a stub table can give the same answers.
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
  now: () => 1763726400000,
}

/** A stub table (`acs eval --functions` format) with the answers `functions` gave on `inputs`, written to `file`. */
function recordStubs(inputs, file) {
  const calls = new Map()
  const recording = Engine.fromPath(rulesFile, {
    functions: Object.fromEntries(
      Object.entries(functions).map(([name, f]) => [
        name,
        (...args) => {
          const answer = f(...args)
          const entries = calls.get(name) ?? []
          if (!entries.some(([known]) => JSON.stringify(known) === JSON.stringify(args))) entries.push([args, answer])
          calls.set(name, entries)
          return answer
        },
      ]),
    ),
  })
  for (const input of inputs) recording.evaluate(input)
  fs.writeFileSync(file, JSON.stringify(Object.fromEntries(calls)))
  return file
}

module.exports = { repo, rulesFile, rustReference, functions, recordStubs }
