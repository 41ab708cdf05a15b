#!/usr/bin/env bash
# Docs that cannot drift: the module table of docs/architecture.md against Package.swift.
# Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
passed=0 failed=0
if python3 scripts/check-architecture-doc.py; then
    echo "PASS docs/architecture.md lists exactly the targets of Package.swift"
    passed=$((passed + 1))
else
    echo "FAIL docs/architecture.md and Package.swift disagree (above)"
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
