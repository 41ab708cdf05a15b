#!/usr/bin/env bash
# The tamper-evident audit log against direct database edits (docs/audit.md): see
# scripts/audit_tamper_check.py. SQLite always; PostgreSQL when SIGIL_AUDIT_POSTGRES_URL or
# SIGIL_TEST_POSTGRES_URL names a server whose `postgres` database may create scratch databases.
# SIGIL_BIN: the binary (default .build/debug/sigil).
set -uo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$SCRIPT_DIR/.."
for tool in python3 sqlite3; do
    command -v "$tool" >/dev/null || { echo "FAIL tools -- $tool is not installed"; echo "0 passed, 1 failed"; exit 1; }
done
exec python3 "$SCRIPT_DIR/audit_tamper_check.py" --bin "${SIGIL_BIN:-.build/debug/sigil}"
