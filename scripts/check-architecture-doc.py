#!/usr/bin/env python3
"""Checks that the module table of docs/architecture.md lists exactly the non-test targets of
Package.swift (`.target(name:` and `.executableTarget(name:`; `.testTarget` excluded).

Usage: scripts/check-architecture-doc.py [--package Package.swift] [--doc docs/architecture.md]
Exit 0 when the sets match, 1 (printing the differences) otherwise.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# `.target(` or `.executableTarget(` (not `.testTarget(`, `.binaryTarget(` etc. — only these two),
# then the `name:` argument, possibly on the next line.
TARGET = re.compile(r'\.(target|executableTarget)\s*\(\s*name\s*:\s*"([^"]+)"')
ROW = re.compile(r'^\|\s*`([^`]+)`\s*\|')


def strip_comments(text):
    """Drops // line comments and /* */ block comments outside string literals."""
    out, i, n = [], 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == '\\' and i + 1 < n:
                out.append(text[i + 1]); i += 2; continue
            if c == '"':
                in_string = False
            i += 1
        elif c == '"':
            in_string = True; out.append(c); i += 1
        elif text.startswith('//', i):
            j = text.find('\n', i)
            i = n if j < 0 else j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c); i += 1
    return ''.join(out)


def package_targets(path):
    with open(path, encoding='utf-8') as f:
        text = strip_comments(f.read())
    names = [m.group(2) for m in TARGET.finditer(text)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    return set(names), dupes


def doc_modules(path):
    """First backticked cell of every table row starting with "| `" in the "## Modules" section
    (other sections have tables of their own); returns the names."""
    names = []
    in_modules = False
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('## '):
                in_modules = line.strip() == '## Modules'
            if not in_modules or not line.startswith('| `'):
                continue
            m = ROW.match(line)
            if m:
                names.append(m.group(1))
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--package', default=os.path.join(ROOT, 'Package.swift'))
    ap.add_argument('--doc', default=os.path.join(ROOT, 'docs', 'architecture.md'))
    args = ap.parse_args()

    targets, target_dupes = package_targets(args.package)
    rows = doc_modules(args.doc)
    documented = set(rows)
    row_dupes = sorted({n for n in rows if rows.count(n) > 1})

    problems = []
    if not targets:
        problems.append(f'no targets found in {args.package}')
    for name in sorted(targets - documented):
        problems.append(f'missing from the module table: {name}')
    for name in sorted(documented - targets):
        problems.append(f'in the module table but not a non-test target of Package.swift: {name}')
    for name in row_dupes:
        problems.append(f'listed more than once in the module table: {name}')
    for name in target_dupes:
        problems.append(f'declared more than once in Package.swift: {name}')

    if problems:
        print(f'{os.path.relpath(args.doc, ROOT)} does not match {os.path.relpath(args.package, ROOT)}:', file=sys.stderr)
        for p in problems:
            print(f'  - {p}', file=sys.stderr)
        return 1
    print(f'module table matches Package.swift ({len(targets)} targets)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
