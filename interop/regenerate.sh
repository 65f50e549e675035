#!/usr/bin/env bash
# Regenerate interop/fixtures/ with the pinned Python reference stack.
# Usage (from anywhere):  bash interop/regenerate.sh [extra make_fixtures.py args]
# Creates interop/.venv on first use (set PYTHON to choose the interpreter, default python3).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q -r "$HERE/requirements.txt"
exec "$VENV/bin/python" "$HERE/make_fixtures.py" "$@"
