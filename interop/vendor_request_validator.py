#!/usr/bin/env python3
"""Re-validates the exchanges a vendor fake logged (interop/fake_auth0.py, interop/fake_okta.py: JSONL,
one exchange per line) against the vendor's OpenAPI document, independently of the fake's own verdicts.

    /opt/peers-venv/bin/python interop/vendor_request_validator.py LOG.jsonl [LOG2.jsonl ...] [--quiet]

For every logged exchange of a documented route (`validated: true`):
  * the request (method, path, query, headers, body) must validate — unless the test marked it as
    deliberately invalid (header X-Sigil-Fake-Expect: invalid-request) AND the fake answered 4xx;
    a marked request that is in fact valid is reported as a note, not a failure;
  * the fake must have agreed: a request this validator finds invalid must have been flagged by the fake
    (fake.request_errors non-empty), and vice versa;
  * the response (status, headers, body) must validate, always;
  * the log must be redacted: no Authorization credential in clear.
Exchanges on routes the vendor document does not describe (the SP endpoints, metadata) are counted and
listed as "not in the document". Bodies are re-validated as logged, i.e. with secrets replaced by
"<redacted>" (a string wherever the document expects a string).
Prints each failure, then "N passed, N failed" (per exchange); exits 1 on any failure, 2 on unreadable input.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vendor_fake_common import REDACTED, body_from_log  # noqa: E402
from vendor_openapi import vendor_api  # noqa: E402


def check_entry(e):
    """(failures, notes) for one logged exchange."""
    failures, notes = [], []
    req, resp = e["request"], e["response"]
    for k, v in req["headers"].items():
        if k.lower() == "authorization" and not v.endswith(REDACTED):
            failures.append("Authorization header not redacted in the log")
    if not e.get("validated"):
        return failures, notes
    api = vendor_api(e["vendor"])
    req_body = body_from_log(req["body_kind"], req["body"])
    problems = api.validate_request(e["method"], e["path"], e.get("query", ""), req["headers"], req_body)
    marked = e["fake"].get("expect_invalid", False)
    fake_flagged = bool(e["fake"].get("request_errors"))
    if problems:
        if not marked:
            failures.append("request does not validate:\n      " + "\n      ".join(p.replace("\n", "\n      ") for p in problems))
        elif not 400 <= resp["status"] < 500:
            failures.append(f"deliberately invalid request answered {resp['status']}, not 4xx")
        if not fake_flagged:
            failures.append("the fake did not flag this invalid request")
    else:
        if marked:
            notes.append("marked invalid-request but validates (the fake refused it on other grounds)")
        if fake_flagged:
            failures.append("the fake flagged a request that validates: " + "; ".join(e["fake"]["request_errors"])[:300])
    resp_body = body_from_log(resp["body_kind"], resp["body"])
    problems = api.validate_response(e["method"], e["path"], e.get("query", ""), req["headers"], req_body,
                                     resp["status"], resp["headers"], resp_body)
    if problems:
        failures.append(f"response {resp['status']} does not validate:\n      " + "\n      ".join(p.replace("\n", "\n      ") for p in problems))
    return failures, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--quiet", action="store_true", help="only failures and the summary")
    args = ap.parse_args()
    passed = failed = 0
    uncovered = {}
    marked = 0
    for path in args.logs:
        try:
            lines = open(path).read().splitlines()
        except OSError as e:
            print(f"cannot read {path}: {e}")
            return 2
        if not lines:
            print(f"FAIL {path}: empty log (no exchange to validate)")
            failed += 1
            continue
        for n, line in enumerate(lines, 1):
            try:
                e = json.loads(line)
            except ValueError as err:
                print(f"FAIL {path}:{n}: not JSON: {err}")
                failed += 1
                continue
            label = f"{path}:{n} {e.get('vendor')} {e.get('method')} {e.get('path')} → {e['response']['status']}"
            if not e.get("validated"):
                uncovered.setdefault((e["vendor"], e["method"], e["path"].split("/")[1] if e["path"].count("/") > 1 else e["path"]), 0)
                uncovered[(e["vendor"], e["method"], e["path"].split("/")[1] if e["path"].count("/") > 1 else e["path"])] += 1
            failures, notes = check_entry(e)
            if e["fake"].get("expect_invalid"):
                marked += 1
            if failures:
                failed += 1
                print(f"FAIL {label}")
                for f in failures:
                    print("    " + f)
            else:
                passed += 1
                if not args.quiet:
                    print(f"PASS {label}" + (f"  ({'; '.join(notes)})" if notes else ""))
    for (vendor, method, route), count in sorted(uncovered.items()):
        print(f"note: {count} exchange(s) {vendor} {method} /{route}… are not in the vendor document (checked for redaction only)")
    print(f"note: {marked} exchange(s) were marked deliberately invalid by their test")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
