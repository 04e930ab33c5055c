// Use ACS from a TypeScript service: load the shipped rules, lend the engine the host's
// lookups, decide on a request. Run it (from bindings/node, after `npm run build`):
//   npx tsc -p examples && node examples/dist/quickstart.js
import { Engine, RulesError, type Decision } from '@acs/engine'

const rulesDir = process.argv[2] ?? '../../rules'

let engine: Engine
try {
  engine = Engine.fromPath(rulesDir, {
    functions: {
      // The host's own lookups; they may also return Promises (then use evaluateAsync).
      'db.count.trucksByOperator': (operatorId: string) => (operatorId === 'OP-1' ? 12 : 1),
      'priceEstimator.lowerBound': async () => 40000,
    },
  })
} catch (error) {
  if (error instanceof RulesError) console.error(`${error.file}:${error.line}:${error.column}: ${error.message}`)
  throw error
}

const request = {
  event: { type: 'truck.create', truck: { id: 'TRK-9' } },
  ctx: { userId: 'U-1', userRole: 'operator', operatorId: 'OP-1', userKycStatus: 'VERIFIED' },
  system: { config: { maxTrucksPerOperator: 10 } },
  db: {},
}

const decision: Decision = engine.evaluate(request)
console.log(decision.verdict.outcome, decision.matched.map((m) => m.id))

engine.evaluateAsync(request).then((same) => {
  console.log('async agrees:', JSON.stringify(same) === JSON.stringify(decision))
})
