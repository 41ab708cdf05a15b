#!/usr/bin/env bash
# Checks and measures sigil-idv-engine (faces, PDF417, MRZ, quality, card text, robustness) with
# interop/idv_engine_check.py. Install first: sudo scripts/install-idv-engines.sh
# Engine: $SIGIL_IDV_ENGINE, else /usr/local/lib/sigil/sigil-idv-engine. Fixture photos are read
# in place from ../shared/fixtures beside the repository (skipped when absent).
# Arguments (optional): sections to run, among faces pdf417 mrz quality text liveness robust.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=python3
if [ -x /opt/peers-venv/bin/python ]; then
    PY=/opt/peers-venv/bin/python
fi
exec "$PY" -u "$REPO/interop/idv_engine_check.py" "$@"
