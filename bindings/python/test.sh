#!/usr/bin/env bash
# Tests of the Python binding. Creates a virtual environment (.venv, reused), installs
# maturin, pytest, pyarrow, polars, pandas, mypy and PySpark from the package registry
# (and a Java runtime from Debian's packages when there is none: Spark runs on the JVM),
# builds the wheel (optimised, profile bindings-test), installs it, runs pytest (the Spark
# tests on a real Spark in local mode) and mypy on the typed example. The velocity tests
# (tests/test_velocity_redis.py) start their own redis-server on a free localhost port: the
# server program comes from Debian's packages when missing. Fails when any test fails or
# when no test ran.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v python3 >/dev/null; then
  echo "python3 missing: installing Debian's python3 and venv"
  apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
fi
if ! java -version >/dev/null 2>&1; then
  echo "java missing: installing Debian's openjdk-17-jre-headless (for the Spark tests)"
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
if ! command -v redis-server >/dev/null; then
  echo "redis-server missing: installing Debian's redis-server (the velocity tests start their own)"
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  # The package starts a system-wide server on 6379; the tests need none of it.
  (service redis-server stop || true) >/dev/null 2>&1
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
py=.venv/bin/python
# `test.sh --install-only` installs the tooling and stops: scripts/test-all runs it early,
# beside the Rust build, and then tells this script (ACS_BINDING_TOOLING=installed) that
# it need not install again.
if [ "${ACS_BINDING_TOOLING:-}" != installed ]; then
  "$py" -m pip install -q --disable-pip-version-check -r requirements-test.txt
fi
if [ "${1:-}" = --install-only ]; then
  exit 0
fi

rm -rf dist
"$py" -m maturin build --profile bindings-test --quiet --out dist 2>&1 | grep -v '^📦\|^🍹\|^🔗\|^🐍' || true
wheel=$(ls dist/*.whl 2>/dev/null | head -1)
if [ -z "$wheel" ]; then
  echo "error: maturin built no wheel" >&2
  exit 1
fi
"$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
(cd ../.. && cargo build -q -p acs-cli)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$py" -m pytest -q -p no:cacheprovider tests >"$out" 2>&1 || status=$?
tail -25 "$out"
if [ "$status" -ne 0 ]; then
  echo "error: the Python suite failed (pytest exit $status)" >&2
  exit 1
fi
ran=$(grep -Eo '[0-9]+ passed' "$out" | tail -1 | grep -Eo '[0-9]+' || true)
if [ -z "$ran" ] || [ "$ran" -eq 0 ]; then
  echo "error: no Python test ran" >&2
  exit 1
fi
if [ -f examples/typed_example.py ]; then
  "$py" -m mypy --strict examples/typed_example.py
fi
echo "python: $ran tests passed"
