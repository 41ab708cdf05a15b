#!/usr/bin/env bash
# Docs and layering that cannot drift: the module table of docs/architecture.md against
# Package.swift, and the layering rules it states (scripts/check-layering.py: SigilHTTP does not
# touch the store, protocol cores import no I/O, SigilServices no HTTP server) with the check's own
# self-test (one deliberate violation per rule must fail it).
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
if python3 scripts/check-layering.py; then
    echo "PASS the layering rules of docs/architecture.md hold"
    passed=$((passed + 1))
else
    echo "FAIL a layering rule is broken (above)"
    failed=$((failed + 1))
fi
if python3 scripts/check-layering.py --self-test; then
    echo "PASS scripts/check-layering.py fails on a deliberate violation of each rule"
    passed=$((passed + 1))
else
    echo "FAIL scripts/check-layering.py --self-test (above)"
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
