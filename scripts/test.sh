#!/usr/bin/env bash
# Runs the whole default suite: unit and integration tests, then ruff and mypy.
# Extra arguments go to pytest (e.g. scripts/test.sh -k listing).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
.venv/bin/python -m pytest "$@" || status=$?
.venv/bin/ruff check . || status=1
.venv/bin/mypy tessera gateway node metadata cli service shardio chaos proto/rpc.py proto/convert.py proto/wire.py proto/node_rpc.py proto/call_stream.py proto/metadata_calls.py || status=1
.venv/bin/mypy examples/invoice-app/app.py examples/invoice-app/invoice_pdf.py || status=1
exit $status
