#!/usr/bin/env bash
# Formatting check: every Swift file of the repository against .swift-format
# (`swift format lint --strict`). The rules and why some are off: docs/contributing.md, "Formatting".
#
# Usage: scripts/check-format.sh [PATH...]
#   PATH  files or directories to check (default: every *.swift file outside hidden
#         directories such as .build, i.e. Package.swift, Sources, Tests, Benchmarks and any other).
#
# Prints each violation as file:line:column, then FAIL per file with violations, and ends with
# "N passed, M failed" (N, M: files without and with violations). Exits 1 on any violation.
# Fix with scripts/format.sh; a line that must keep its layout takes a `// swift-format-ignore`
# comment on the line before its declaration or statement.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# swift_files [PATH...]: the Swift files to check, one per line, without a leading "./".
swift_files() {
    if [ "$#" -eq 0 ]; then set -- .; fi
    find "$@" -path '*/.*' -prune -o -name '*.swift' -type f -print | sed 's|^\./||' | LC_ALL=C sort
}

mapfile -t files < <(swift_files "$@")
if [ "${#files[@]}" -eq 0 ]; then
    echo "FAIL no Swift files found under: ${*:-.}"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! swift format --version >/dev/null 2>&1; then
    echo "FAIL \`swift format\` is not available (it ships with the Swift 6 toolchain)"
    echo "0 passed, 1 failed"
    exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
swift format lint --strict --parallel --no-color-diagnostics --configuration .swift-format "${files[@]}" >"$log" 2>&1 || rc=$?
cat "$log"

# findings per file: lines "path:line:column: error: [Rule] message" (parse errors name the
# file by its absolute path)
declare -A findings=()
while IFS= read -r f; do
    f=${f#"$PWD"/}
    findings[$f]=$((${findings[$f]:-0} + 1))
done < <(sed -n -E 's/^([^:]+):[0-9]+:[0-9]+: (error|warning): .*/\1/p' "$log")

passed=0 failed=0
for f in "${files[@]}"; do
    n=${findings[$f]:-0}
    if [ "$n" -gt 0 ]; then
        echo "FAIL $f ($n findings)"
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
done
# swift format failed without naming a file (unreadable configuration, crash): still a failure.
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "FAIL swift format lint exited $rc"
    failed=1
fi
if [ "$failed" -eq 0 ]; then
    echo "PASS ${#files[@]} Swift files are formatted as .swift-format says"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
