#!/usr/bin/env bash
# schemathesis (PyPI, pinned, in its own venv .venv-schemathesis) against the service's
# /api/openapi.json as a patient, an admin and a coordinator: no 5xx, every response matches
# the schema. Needs the agent binary ($AGENT_BIN or the debug build). Short by default
# (SCHEMATHESIS_EXAMPLES=20 per operation); pass --max-examples N for a longer run.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-schemathesis
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "4.32.5"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check schemathesis==4.32.5
fi
exec "$venv/bin/python" tests/api/schemathesis_run.py "$@"
