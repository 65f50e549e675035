#!/usr/bin/env bash
# Regenerate interop/fixtures/lora/ (LoRA interop fixtures) with the pinned Python reference stack.
# Usage (from anywhere):  bash interop/regenerate_lora.sh [extra make_lora_fixtures.py args]
# Same venv logic as regenerate.sh: creates interop/.venv on first use (set PYTHON to choose the
# interpreter, default python3); set VENV to use an existing virtualenv elsewhere.
# Needs the tiny models in interop/fixtures/models (committed; made by regenerate.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${VENV:-$HERE/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q -r "$HERE/requirements.txt"
# PYTHONHASHSEED=0: PEFT keeps target_modules as a set and writes it in set order (the script
# re-executes itself with it anyway).
PYTHONHASHSEED=0 exec "$VENV/bin/python" "$HERE/make_lora_fixtures.py" "$@"
