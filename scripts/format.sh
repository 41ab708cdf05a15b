#!/usr/bin/env bash
# Formats Swift files in place with .swift-format (`swift format format -i`); the check that CI
# runs is scripts/check-format.sh. See docs/contributing.md, "Formatting".
#
# Usage: scripts/format.sh [PATH...]
#   PATH  files or directories to format (default: every *.swift file outside hidden directories
#         such as .build: Package.swift, Sources, Tests, Benchmarks and any other).
# Formatting is idempotent; a second run changes nothing. Exits non-zero if swift format fails
# (a file that does not parse is left as it was).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$#" -eq 0 ]; then set -- .; fi
mapfile -t files < <(find "$@" -path '*/.*' -prune -o -name '*.swift' -type f -print | sed 's|^\./||' | LC_ALL=C sort)
if [ "${#files[@]}" -eq 0 ]; then
    echo "no Swift files found under: $*" >&2
    exit 1
fi
swift format format --in-place --parallel --configuration .swift-format "${files[@]}"
rc=$?
if [ "$rc" -eq 0 ]; then
    echo "formatted ${#files[@]} Swift files"
fi
exit "$rc"
