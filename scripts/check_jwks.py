#!/usr/bin/env python3
"""Validate a Sigil JWKS document with a third-party JOSE library (joserfc).

Usage:
    check_jwks.py URL [--host HOST] [--out FILE]
    check_jwks.py --file JWKS.json [--out FILE]

Checks:
  * the document is a JSON object with a non-empty "keys" array;
  * joserfc's KeySet.import_key_set() accepts it;
  * every key carries a "kid" and that kid equals the RFC 7638 JWK thumbprint
    (SHA-256, base64url) computed by joserfc; kids are unique;
  * no key carries private members (d, p, q, dp, dq, qi, oth, k);
  * "use", when present, is "sig";
  * at least one RSA key with alg RS256 (modulus >= 2048 bits) and at least
    one EC P-256 key with alg ES256; EC keys with alg ES256 are on P-256;
  * a key's "x5c" certificate, when present, holds that key's public key;
  * with --cert PEM: that certificate's public key is one of the RS256 keys
    (the SAML signing certificate must belong to a published key).

Prints one line per problem on stderr and a short summary on stdout; exits 0
when the document passes, 1 when it does not, 2 on usage or fetch errors.
With --out, writes {"kids": [...], "rsa_kids": [...], "ec_kids": [...]} to FILE
(also when the checks fail, as long as the document could be parsed).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def b64url_len_bits(value: str) -> int:
    padded = value + "=" * (-len(value) % 4)
    raw = base64.urlsafe_b64decode(padded)
    return len(raw.lstrip(b"\x00")) * 8


def public_der(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_x5c(raw: dict, key) -> str | None:
    """The first x5c certificate must carry the JWK's own public key."""
    from cryptography import x509

    chain = raw.get("x5c")
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        return "x5c is not a non-empty array of strings"
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(chain[0]))  # x5c is base64, not base64url
    except Exception as exc:  # noqa: BLE001
        return f"x5c[0] is not a DER certificate: {exc}"
    if public_der(cert.public_key()) != public_der(key.public_key):
        return "x5c[0] certificate holds a different public key"
    return None


def check_cert(path: str, raw_keys: list, key_set) -> str | None:
    from cryptography import x509

    try:
        with open(path, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
    except Exception as exc:  # noqa: BLE001
        return f"--cert {path}: not a PEM certificate: {exc}"
    wanted = public_der(cert.public_key())
    for raw, key in zip(raw_keys, key_set.keys):
        if raw.get("alg") == "RS256" and public_der(key.public_key) == wanted:
            return None
    return f"the certificate in {path} does not hold any published RS256 key"


def load(args: argparse.Namespace) -> object:
    if args.file:
        with open(args.file, "rb") as fh:
            return json.loads(fh.read())
    import requests  # third-party; installed by .ci/run

    headers = {"Accept": "application/json"}
    if args.host:
        headers["Host"] = args.host
    resp = requests.get(args.url, headers=headers, timeout=15)
    if resp.status_code != 200:
        print(f"GET {args.url}: HTTP {resp.status_code}: {resp.text[:300]}", file=sys.stderr)
        sys.exit(2)
    ctype = resp.headers.get("Content-Type", "")
    if "json" not in ctype:
        print(f"warning: Content-Type is {ctype!r}", file=sys.stderr)
    return resp.json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?")
    parser.add_argument("--file")
    parser.add_argument("--host", help="send this Host header")
    parser.add_argument("--out", help="write the kids found to this JSON file")
    parser.add_argument("--cert", help="PEM certificate whose key must be a published RS256 key")
    args = parser.parse_args()
    if bool(args.url) == bool(args.file):
        parser.error("give exactly one of URL or --file")

    from joserfc.jwk import KeySet  # third-party: the point of this check

    try:
        doc = load(args)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - report anything as a fetch/parse error
        print(f"could not load JWKS: {exc!r}", file=sys.stderr)
        return 2

    problems: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list) or not doc["keys"]:
        print(f"not a JWKS with a non-empty keys array: {json.dumps(doc)[:300]}", file=sys.stderr)
        return 1
    raw_keys = doc["keys"]

    # joserfc fills a missing kid with the thumbprint, so the kid checks below
    # read the raw JSON members, never key.kid.
    kids = [k.get("kid") if isinstance(k, dict) else None for k in raw_keys]
    rsa_kids: list[str] = []
    ec_kids: list[str] = []

    try:
        key_set = KeySet.import_key_set(doc)
    except Exception as exc:  # noqa: BLE001
        print(f"joserfc rejected the key set: {exc!r}", file=sys.stderr)
        key_set = None
        problems.append("joserfc could not import the key set")

    if key_set is not None:
        if len(key_set.keys) != len(raw_keys):
            problems.append(f"joserfc imported {len(key_set.keys)} of {len(raw_keys)} keys")
        for raw, key in zip(raw_keys, key_set.keys):
            kid = raw.get("kid")
            label = f"key kid={kid!r} kty={raw.get('kty')!r} alg={raw.get('alg')!r}"
            if not isinstance(kid, str) or not kid:
                problems.append(f"{label}: missing kid")
            else:
                thumb = key.thumbprint()
                if kid != thumb:
                    problems.append(f"{label}: kid is not the RFC 7638 thumbprint (joserfc computes {thumb})")
            leaked = [m for m in PRIVATE_MEMBERS if m in raw]
            if leaked or key.is_private:
                problems.append(f"{label}: publishes private members {leaked}")
            if "use" in raw and raw["use"] != "sig":
                problems.append(f"{label}: use is {raw['use']!r}, expected 'sig'")
            kty = raw.get("kty")
            alg = raw.get("alg")
            if kty == "RSA" and alg == "RS256":
                bits = b64url_len_bits(raw.get("n", ""))
                if bits < 2048:
                    problems.append(f"{label}: RSA modulus is {bits} bits")
                else:
                    rsa_kids.append(kid)
            elif kty == "EC" and alg == "ES256":
                if raw.get("crv") != "P-256":
                    problems.append(f"{label}: alg ES256 on curve {raw.get('crv')!r}")
                else:
                    ec_kids.append(kid)
            if alg is None:
                problems.append(f"{label}: no alg")
            if "x5c" in raw:
                problem = check_x5c(raw, key)
                if problem:
                    problems.append(f"{label}: {problem}")

    if args.cert and key_set is not None:
        problem = check_cert(args.cert, raw_keys, key_set)
        if problem:
            problems.append(problem)

    string_kids = [k for k in kids if isinstance(k, str)]
    if len(set(string_kids)) != len(string_kids):
        problems.append(f"duplicate kids: {string_kids}")
    if not rsa_kids:
        problems.append("no RSA key with alg RS256")
    if not ec_kids:
        problems.append("no EC P-256 key with alg ES256")

    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"kids": string_kids, "rsa_kids": rsa_kids, "ec_kids": ec_kids}, fh)

    for problem in problems:
        print(f"jwks: {problem}", file=sys.stderr)
    print(f"jwks: {len(raw_keys)} keys ({len(rsa_kids)} RS256, {len(ec_kids)} ES256), "
          f"{'OK' if not problems else str(len(problems)) + ' problem(s)'}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
