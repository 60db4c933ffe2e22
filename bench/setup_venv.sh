#!/usr/bin/env bash
# Creates bench/.venv (dlt, SQLAlchemy, drivers, py-spy: bench/requirements.txt), apart from the product's
# .venv. Idempotent; quick when nothing changed (a stamp holds the sha256 of the requirements installed).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
wanted="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -r requirements.txt
    echo "$wanted" > "$stamp"
fi
