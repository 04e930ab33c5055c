'use strict'
// The package as a user gets it: `npm pack`, installed into an empty project, then
// required from CommonJS, imported from ESM, and used from the README's TypeScript example.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { rules } = require('./support')

const binding = path.resolve(__dirname, '..')
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

test('npm pack installs into an empty project and works from require, import and TypeScript', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-node-pack-'))
  try {
    const tarball = run('npm', ['pack', '--silent', '--pack-destination', dir], binding).trim().split('\n').pop()
    const project = path.join(dir, 'app')
    fs.mkdirSync(project)
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
    run('npm', ['install', '--no-audit', '--no-fund', '--offline', path.join(dir, tarball)], project)
    const installed = path.join(project, 'node_modules', '@acs', 'engine')
    const files = fs.readdirSync(installed).sort()
    for (const needed of ['index.js', 'index.mjs', 'index.d.ts', 'native.js', 'native.d.ts', 'types.d.ts', 'package.json']) {
      assert.ok(files.includes(needed), `${needed} is in the package (${files})`)
    }
    assert.ok(files.some((f) => f.endsWith('.node')), 'the addon is in the package')

    const input = JSON.stringify({ event: { type: 'bid.create' }, ctx: { userRole: 'operator', userKycStatus: 'PENDING' } })
    fs.writeFileSync(
      path.join(project, 'cjs.js'),
      `const { Engine } = require('@acs/engine'); console.log(Engine.fromPath(${JSON.stringify(rules)}).evaluate(${input}).verdict.rule_id)`,
    )
    assert.equal(run(process.execPath, ['cjs.js'], project).trim(), 'RF01_KYC_MANDATORY')
    fs.writeFileSync(
      path.join(project, 'esm.mjs'),
      `import { Engine, RulesError } from '@acs/engine'; import acs from '@acs/engine';\n` +
        `const d = await Engine.fromPath(${JSON.stringify(rules)}).evaluateAsync(${input});\n` +
        `console.log(d.verdict.rule_id, typeof RulesError, acs.Engine === Engine)`,
    )
    assert.equal(run(process.execPath, ['esm.mjs'], project).trim(), 'RF01_KYC_MANDATORY function true')

    // The README's TypeScript example type-checks against the installed types and runs.
    const example = path.join(project, 'example')
    fs.mkdirSync(example)
    fs.copyFileSync(path.join(binding, 'examples', 'quickstart.ts'), path.join(example, 'quickstart.ts'))
    fs.copyFileSync(path.join(binding, 'examples', 'tsconfig.json'), path.join(example, 'tsconfig.json'))
    fs.symlinkSync(path.join(binding, 'node_modules', '@types'), path.join(project, 'node_modules', '@types'))
    run(process.execPath, [path.join(binding, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', example], project)
    const out = run(process.execPath, [path.join(example, 'dist', 'quickstart.js'), rules], project)
    assert.match(out, /^rejected \[ 'RF12_OPERATOR_MAX_TRUCKS_LIMIT' \]/m)
    assert.match(out, /async agrees: true/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
