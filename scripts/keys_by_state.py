#!/usr/bin/env python3
"""Print the kids of the keys in a given state from `sigil keys list --json`.

Usage: sigil keys list --tenant T --json | keys_by_state.py STATE

Reads the JSON on stdin; accepts a top-level array or an object holding the
array under "keys", "items" or "data". For each key it reads the kid from
"kid" (or "key_id"/"id") and the state from "state" (or "status"), compares
states case-insensitively, and prints one kid a line. Exits 1 when the input
is not such JSON, 0 otherwise (even when no key is in that state).
"""

import json
import sys


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    want = sys.argv[1].lower()
    try:
        doc = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"keys list output is not JSON: {exc}", file=sys.stderr)
        return 1
    if isinstance(doc, dict):
        for name in ("keys", "items", "data"):
            if isinstance(doc.get(name), list):
                doc = doc[name]
                break
    if not isinstance(doc, list):
        print("keys list output is not a list of keys", file=sys.stderr)
        return 1
    for key in doc:
        if not isinstance(key, dict):
            continue
        kid = key.get("kid") or key.get("key_id") or key.get("id")
        state = key.get("state") or key.get("status")
        if isinstance(kid, str) and isinstance(state, str) and state.lower() == want:
            print(kid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
