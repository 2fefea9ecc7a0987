#!/usr/bin/env bash
# Start the agent with the embedded defaults: fetch the models if absent, create the
# encryption key if absent, build in release, and serve the patient widget on
# http://127.0.0.1:8080/ with SQLite under ./data and the demo EHR.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p agent
bin=${CARGO_TARGET_DIR:-target}/release/agent
"$bin" models fetch
key=${AGENT__CRYPTO__KEY_FILE:-data/master.key}
[ -f "$key" ] || "$bin" keys init --out "$key"
exec "$bin" serve
