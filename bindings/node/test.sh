#!/usr/bin/env bash
# Tests of the Node binding. Installs its own tooling from the npm registry (npm ci, with
# the committed lockfile), builds the addon (optimised, profile bindings-test) with the napi-rs CLI, builds
# the `acs` CLI the tests compare against, and runs the suite with `node --test`. The
# velocity tests (test/velocity.test.js) start their own redis-server on a free localhost
# port: the server program comes from Debian's packages when missing.
# Fails when any test fails, when no test ran, or when the generated declarations
# (native.d.ts, native.js) differ from the committed ones.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "node/npm missing: installing Debian's nodejs and npm"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
if ! command -v redis-server >/dev/null; then
  echo "redis-server missing: installing Debian's redis-server (the velocity tests start their own)"
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  # The package starts a system-wide server on 6379; the tests need none of it.
  (service redis-server stop || true) >/dev/null 2>&1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "error: Node $(node --version) is too old; the binding needs Node 18 or newer" >&2
  exit 1
fi

# `test.sh --install-only` installs the tooling and stops: scripts/test-all runs it early,
# beside the Rust build, and then tells this script (ACS_BINDING_TOOLING=installed) that
# it need not install again.
if [ "${ACS_BINDING_TOOLING:-}" != installed ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ "${1:-}" = --install-only ]; then
  exit 0
fi
npx napi build --platform --profile bindings-test --js native.js --dts native.d.ts
if ! git diff --quiet -- native.d.ts native.js 2>/dev/null; then
  echo "error: native.d.ts or native.js changed when generated; commit the generated files:" >&2
  git --no-pager diff --stat -- native.d.ts native.js >&2
  exit 1
fi
(cd ../.. && cargo build -q -p acs-cli)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
node --test --test-reporter=tap test/ >"$out" 2>&1 || status=$?
grep -E '^(not ok|# (tests|pass|fail|cancelled|skipped|todo))' "$out" || true
if [ "$status" -ne 0 ]; then
  cat "$out" >&2
  echo "error: the Node suite failed" >&2
  exit "$status"
fi
ran=$(sed -n 's/^# tests \([0-9]*\)$/\1/p' "$out" | tail -1)
if [ -z "$ran" ] || [ "$ran" -eq 0 ]; then
  echo "error: no Node test ran" >&2
  exit 1
fi
echo "node: $ran tests passed"
