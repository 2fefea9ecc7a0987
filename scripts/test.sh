#!/usr/bin/env bash
# The whole test suite: unit tests, the real model, a real FHIR server (sekmet-fhir, started
# by the tests on free loopback ports), SQLite and PostgreSQL (a throwaway database per run).
set -euo pipefail
cd "$(dirname "$0")/.."

pg_admin=${AGENT_TEST_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
db="agent_test_$(date +%s)_$$"
psql "$pg_admin" -qtAc "CREATE DATABASE $db" >/dev/null
cleanup() { psql "$pg_admin" -qtAc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
export AGENT_TEST_DATABASE_URL="${pg_admin%/*}/$db"
echo "PostgreSQL test database: $db"

# The end-to-end tests (Rust and browser) run the real binary.
target_dir=${CARGO_TARGET_DIR:-target}
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
export AGENT_BIN="$target_dir/debug/agent"
cargo build -p agent
mkdir -p "$target_dir"
# From here every suite runs even when an earlier one fails; the exit code reports any failure.
set +e
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-2}" 2>&1 | tee "$target_dir/test-output.log"
status=${PIPESTATUS[0]}

# Deployment files: Kubernetes manifests against the API schemas, the systemd unit.
deploy/validate 2>&1 | tee "$target_dir/deploy-output.log"
deploy=${PIPESTATUS[0]}
[ "$deploy" -eq 0 ] || status=$deploy

# Browser tests: Debian's chromium driven by playwright-core, against the real binary.
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && node --test --test-concurrency=1 .) \
  2>&1 | tee "$target_dir/browser-output.log"
browser=${PIPESTATUS[0]}
[ "$browser" -eq 0 ] || status=$browser
# The API fuzzed by schemathesis against its OpenAPI document (patient, admin, coordinator), and
# cargo-deny on licences, bans and sources; each script fetches its own pinned tool.
scripts/schemathesis.sh 2>&1 | tee "$target_dir/schemathesis-output.log"
st=${PIPESTATUS[0]}
[ "$st" -eq 0 ] || status=$st
scripts/deny.sh >"$target_dir/deny-output.log" 2>&1
st=$?
grep -E '^error|ok$' "$target_dir/deny-output.log"
[ "$st" -eq 0 ] || status=$st
echo "store stories: $(grep -cE '^test .*stories::sqlite.* ok$' "$target_dir/test-output.log") passed on SQLite, \
$(grep -cE '^test .*stories::postgres.* ok$' "$target_dir/test-output.log") passed on PostgreSQL"
exit "$status"
