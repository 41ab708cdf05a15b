#!/usr/bin/env python3
"""Edits the audit log directly in the database, the way an attacker with database write access
would, and checks that `sigil audit verify` catches each edit and says which event (docs/audit.md).

Runs on SQLite (a data directory per scenario) and, when a PostgreSQL URL is given, on PostgreSQL
(a database per scenario, copied from a populated template). Also recomputes every chain with this
file's own implementation of the documented hash, so docs/audit.md and the code cannot drift apart.

Usage: scripts/audit_tamper_check.py [--bin .build/debug/sigil] [--postgres-url postgres://...]
Environment: SIGIL_BIN, SIGIL_AUDIT_POSTGRES_URL (or SIGIL_TEST_POSTGRES_URL: a server whose
`postgres` database may be used to create and drop scratch databases).
Prints PASS/FAIL per check and "N passed, M failed"; exit 1 when anything failed.
Needs python3, sqlite3 and (for PostgreSQL) psql.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

PASSED = 0
FAILED = []
TAMPERED = 3


def check(name, ok, detail=""):
    global PASSED
    if ok:
        PASSED += 1
        print(f"PASS {name}")
    else:
        FAILED.append(name)
        print(f"FAIL {name}" + (f" -- {detail}" if detail else ""))


# --- the documented chain, implemented independently -------------------------------------------

def field(value):
    if value is None:
        return b"\x00"
    data = value.encode()
    return b"\x01" + len(data).to_bytes(4, "big") + data


def summary(text):
    if text is None:
        return b"\x00"
    pairs = json.loads(text)
    out = b"\x01" + len(pairs).to_bytes(4, "big")
    for key in sorted(pairs, key=lambda k: k.encode()):
        out += field(key) + field(pairs[key])
    return out


def content_digest(row):
    data = b"sigil-audit-event-v1"
    data += field(row["id"]) + field(row["tenant_id"]) + field(str(row["occurred_at"])) + field(row["actor"])
    data += field(row["action"]) + field(row["target_type"]) + field(row["target_id"]) + field(row["outcome"])
    data += summary(row["before_summary"]) + summary(row["after_summary"]) + field(row["reason"])
    return hashlib.sha256(data).digest()


def link(chain, seq, previous_hex, digest):
    data = b"sigil-audit-link-v1\x00" + chain.encode() + b"\x00" + seq.to_bytes(8, "big") + bytes.fromhex(previous_hex) + digest
    return hashlib.sha256(data).hexdigest()


GENESIS = "0" * 64
COLUMNS = ["id", "tenant_id", "occurred_at", "actor", "action", "target_type", "target_id", "outcome",
           "before_summary", "after_summary", "reason", "chain", "chain_seq", "prev_hash", "hash"]


# --- backends ------------------------------------------------------------------------------------

class SQLite:
    name = "sqlite"

    def __init__(self, root):
        self.root = root
        self.template = os.path.join(root, "template")

    def env(self, where):
        return {"SIGIL_DATA_DIR": where}

    def fresh(self, label):
        where = os.path.join(self.root, label)
        shutil.copytree(self.template, where)
        return where

    def sql(self, where, statement):
        out = subprocess.run(["sqlite3", "-batch", "-separator", "\x1f", "-nullvalue", "\x1eNULL",
                              os.path.join(where, "sigil.sqlite"), statement],
                             capture_output=True, text=True, check=True)
        return out.stdout

    def template_ready(self):
        pass

    def cleanup(self):
        pass


class Postgres:
    name = "postgres"

    def __init__(self, url, root):
        self.url = url
        self.root = root
        parts = urllib.parse.urlsplit(url)
        self.admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        self.prefix = f"sigil_audit_{os.getpid()}"
        self.databases = []
        self.template = f"{self.prefix}_template"
        self.master = os.path.join(root, "pg-master")
        os.makedirs(self.master, exist_ok=True)
        self.create(self.template)

    def url_for(self, database):
        parts = urllib.parse.urlsplit(self.url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + database))

    def create(self, database, template=None):
        statement = f"CREATE DATABASE {database}" + (f" TEMPLATE {template}" if template else "")
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", self.admin_url, "-c", statement], check=True, capture_output=True)
        self.databases.append(database)

    def env(self, where):
        # The master key file stays in one directory: every copy of the template shares it.
        return {"SIGIL_DATA_DIR": self.master, "SIGIL_DATABASE_URL": self.url_for(where)}

    def fresh(self, label):
        database = f"{self.prefix}_{label.replace('-', '_')}"
        self.create(database, template=self.template)
        return database

    def sql(self, where, statement):
        out = subprocess.run(["psql", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-P", "null=\x1eNULL",
                              self.url_for(where), "-c", statement], capture_output=True, text=True, check=True)
        return out.stdout

    def template_ready(self):
        pass

    def cleanup(self):
        for database in reversed(self.databases):
            subprocess.run(["psql", "-q", self.admin_url, "-c", f"DROP DATABASE IF EXISTS {database}"], capture_output=True)


# --- helpers -------------------------------------------------------------------------------------

def sigil(args, backend, where, expect=None, extra_env=None):
    env = dict(os.environ)
    env.update(backend.env(where))
    env["SIGIL_LOG_LEVEL"] = "error"
    env.update(extra_env or {})
    out = subprocess.run([BIN] + args, capture_output=True, text=True, env=env)
    if expect is not None and out.returncode != expect:
        raise RuntimeError(f"sigil {' '.join(args)} exited {out.returncode}, expected {expect}: {out.stderr.strip()} {out.stdout.strip()[:500]}")
    return out


def rows(backend, where, chain):
    text = backend.sql(where, f"SELECT {', '.join(COLUMNS)} FROM audit_events WHERE chain = '{chain}' ORDER BY chain_seq")
    result = []
    for line in text.split("\n"):
        if not line:
            continue
        values = [None if v == "\x1eNULL" else v for v in line.split("\x1f")]
        row = dict(zip(COLUMNS, values))
        row["occurred_at"] = int(row["occurred_at"])
        row["chain_seq"] = int(row["chain_seq"])
        result.append(row)
    return result


def tenant_id(backend, where, slug):
    return backend.sql(where, f"SELECT id FROM tenants WHERE slug = '{slug}'").strip()


def verify(backend, where, *extra):
    out = sigil(["audit", "verify", "--json", *extra], backend, where)
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"audit verify printed no JSON (exit {out.returncode}): {out.stderr.strip()}")
    return out.returncode, report


def findings(report):
    found = [f for chain in report["chains"] for f in chain["findings"]] + report["unchained"]
    return [(f["kind"], f.get("sequence"), f.get("event_id")) for f in found]


def rehash_from(backend, where, chain, start):
    """Recomputes hashes from `start` on and moves the head: what an attacker who read docs/audit.md
    would do after editing an event."""
    previous = GENESIS
    for row in rows(backend, where, chain):
        if row["chain_seq"] >= start:
            new = link(chain, row["chain_seq"], previous, content_digest(row))
            backend.sql(where, f"UPDATE audit_events SET prev_hash = '{previous}', hash = '{new}' WHERE id = '{row['id']}'")
            row["hash"] = new
        previous = row["hash"]
    last = rows(backend, where, chain)[-1]
    backend.sql(where, f"UPDATE audit_chain_heads SET seq = {last['chain_seq']}, hash = '{last['hash']}' WHERE chain = '{chain}'")


# --- the run -------------------------------------------------------------------------------------

def populate(backend, where):
    sigil(["tenant", "create", "acme"], backend, where, expect=0)
    for name in ["ada", "bob", "cy"]:
        sigil(["user", "create", "--tenant", "acme", "--email", f"{name}@example.com", "--given-name", name.title(),
               "--family-name", "Example"], backend, where, expect=0)
    sigil(["keys", "rotate", "--tenant", "acme"], backend, where, expect=0)
    sigil(["audit", "checkpoint"], backend, where, expect=0)
    for name in ["dee", "eve"]:
        sigil(["user", "create", "--tenant", "acme", "--email", f"{name}@example.com", "--given-name", name.title(),
               "--family-name", "Example"], backend, where, expect=0)


def run(backend):
    print(f"\n==== {backend.name} ====")
    template = backend.template if isinstance(backend, Postgres) else backend.template
    if isinstance(backend, SQLite):
        os.makedirs(template)
    populate(backend, template)
    acme = tenant_id(backend, template, "acme")
    chain = rows(backend, template, acme)
    n = len(chain)
    checkpoint = max(int(s) for s in backend.sql(template, f"SELECT seq FROM audit_checkpoints WHERE chain = '{acme}'").split())

    # The untouched log verifies, and this file's implementation of docs/audit.md agrees.
    code, report = verify(backend, template)
    check(f"{backend.name}: untouched log is intact (exit 0)", code == 0 and report["intact"], json.dumps(findings(report)))
    previous, agrees = GENESIS, True
    for row in chain:
        agrees &= row["prev_hash"] == previous and link(acme, row["chain_seq"], previous, content_digest(row)) == row["hash"]
        previous = row["hash"]
    check(f"{backend.name}: the documented hash recomputes every stored link", agrees and n >= 8, f"{n} events")
    export_file = os.path.join(ROOT_TMP, f"{backend.name}-export.json")
    out = sigil(["audit", "export", "--tenant", "acme", "--from", "2", "--to", "4", "-o", export_file], backend, template, expect=0)
    proven = sigil(["audit", "verify-export", export_file], backend, template)
    check(f"{backend.name}: an exported range proves against its checkpoint", proven.returncode == 0, proven.stdout + proven.stderr)
    data = json.load(open(export_file))
    data["events"][1]["event"]["actor"] = "cli-but-not-really"
    json.dump(data, open(export_file, "w"))
    forged = sigil(["audit", "verify-export", export_file], backend, template)
    check(f"{backend.name}: an edited export does not prove (exit 3)", forged.returncode == TAMPERED, forged.stdout)
    backend.template_ready()
    target = chain[2]  # a user.created event
    scenarios = []

    def scenario(label, edit, expect_kind, expect_seq, extra=()):
        where = backend.fresh(label)
        edit(where)
        code, report = verify(backend, where, *extra)
        got = findings(report)
        ok = code == TAMPERED and not report["intact"] and any(k == expect_kind and (expect_seq is None or s == expect_seq) for k, s, _ in got)
        check(f"{backend.name}: {label} is caught as {expect_kind}" + (f" at event {expect_seq}" if expect_seq else ""), ok,
              f"exit {code}, findings {got}")
        scenarios.append(label)

    scenario("changed-actor", lambda w: backend.sql(w, f"UPDATE audit_events SET actor = 'admin_token:nobody' WHERE id = '{target['id']}'"),
             "changed", 3)
    scenario("changed-summary", lambda w: backend.sql(
        w, f"UPDATE audit_events SET after_summary = '{{\"email\":\"mallory@example.com\"}}' WHERE id = '{target['id']}'"), "changed", 3)
    scenario("moved-to-other-tenant", lambda w: backend.sql(
        w, f"UPDATE audit_events SET tenant_id = (SELECT id FROM tenants WHERE slug = 'default') WHERE id = '{target['id']}'"), "changed", 3)
    scenario("deleted-middle", lambda w: backend.sql(w, f"DELETE FROM audit_events WHERE id = '{target['id']}'"), "missing", 3)
    scenario("deleted-last", lambda w: backend.sql(w, f"DELETE FROM audit_events WHERE id = '{chain[-1]['id']}'"), "truncated", n)
    scenario("reordered", lambda w: backend.sql(w, (
        f"UPDATE audit_events SET chain_seq = -1 WHERE id = '{chain[2]['id']}'; "
        f"UPDATE audit_events SET chain_seq = 3 WHERE id = '{chain[3]['id']}'; "
        f"UPDATE audit_events SET chain_seq = 4 WHERE id = '{chain[2]['id']}'")), "reordered", 3)
    scenario("inserted-row", lambda w: backend.sql(w, (
        "INSERT INTO audit_events (id, tenant_id, occurred_at, actor, action, outcome) "
        f"VALUES ('evt_forged', '{acme}', {chain[1]['occurred_at']}, 'cli', 'user.created', 'success')")), "unchained", None)

    def rewritten(w):
        backend.sql(w, f"UPDATE audit_events SET actor = 'admin_token:nobody' WHERE id = '{target['id']}'")
        rehash_from(backend, w, acme, 3)
    scenario("changed-and-rehashed", rewritten, "checkpoint_mismatch", checkpoint)

    def truncated_and_rehead(w):
        last = chain[checkpoint - 2]
        backend.sql(w, f"DELETE FROM audit_events WHERE chain = '{acme}' AND chain_seq >= {checkpoint}")
        backend.sql(w, f"UPDATE audit_chain_heads SET seq = {last['chain_seq']}, hash = '{last['hash']}' WHERE chain = '{acme}'")
    scenario("tail-deleted-head-moved", truncated_and_rehead, "truncated", checkpoint)

    def forged_checkpoint(w):
        backend.sql(w, f"UPDATE audit_checkpoints SET seq = seq + 100 WHERE chain = '{acme}'")
    scenario("checkpoint-row-edited", forged_checkpoint, "checkpoint_invalid", checkpoint)

    # The rollback a chain cannot see from inside: events, checkpoints and head all cut back to
    # an earlier consistent state. A checkpoint kept outside the database (the server logs one per
    # chain; /.well-known/sigil-audit-checkpoint publishes it) catches it.
    witness = backend.sql(template, f"SELECT signed FROM audit_checkpoints WHERE chain = '{acme}' ORDER BY seq DESC LIMIT 1").strip()
    witness_file = os.path.join(ROOT_TMP, f"{backend.name}-witness.txt")
    open(witness_file, "w").write(witness + "\n")

    def rollback(w):
        keep = checkpoint - 2
        last = chain[keep - 1]
        backend.sql(w, f"DELETE FROM audit_events WHERE chain = '{acme}' AND chain_seq > {keep}")
        backend.sql(w, f"DELETE FROM audit_checkpoints WHERE chain = '{acme}'")
        backend.sql(w, f"UPDATE audit_chain_heads SET seq = {keep}, hash = '{last['hash']}' WHERE chain = '{acme}'")
    where = backend.fresh("rollback-unwitnessed")
    rollback(where)
    code, report = verify(backend, where)
    print(f"  (as docs/audit.md says, a consistent rollback with no outside copy verifies: exit {code})")
    scenario("rolled-back-with-witness", rollback, "truncated", checkpoint - 1, extra=("--witness", witness_file))

    # After any of this, the node still writes new events (the chain continues from its head).
    where = backend.fresh("keeps-writing")
    backend.sql(where, "DELETE FROM audit_chain_heads")
    sigil(["user", "create", "--tenant", "acme", "--email", "late@example.com", "--given-name", "Late", "--family-name", "Example"],
          backend, where, expect=0)
    after = rows(backend, where, acme)
    check(f"{backend.name}: a deleted head row is rebuilt from the last event and writing goes on",
          after[-1]["chain_seq"] == n + 1 and after[-1]["prev_hash"] == chain[-1]["hash"], f"{after[-1]['chain_seq']}")


def served_checkpoint(root):
    """A running node signs checkpoints on its own, logs each one, and publishes the newest: the
    copy kept outside the database verifies as a witness."""
    print("\n==== a serving node ====")
    data = os.path.join(root, "serving")
    os.makedirs(data)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = dict(os.environ, SIGIL_DATA_DIR=data, SIGIL_AUDIT_CHECKPOINT_SECONDS="5", SIGIL_PORT=str(port), SIGIL_LOG_LEVEL="info")
    log_path = os.path.join(root, "serve.log")
    with open(log_path, "w") as log:
        server = subprocess.Popen([BIN, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    body, deadline = None, time.time() + 60
    try:
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/sigil-audit-checkpoint", timeout=2) as response:
                    body = json.load(response)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        check("the node publishes a signed checkpoint at /.well-known/sigil-audit-checkpoint",
              body is not None and body.get("checkpoint", "").count(".") == 2 and body.get("seq", 0) >= 1, str(body))
        logged = [json.loads(line) for line in open(log_path) if '"audit checkpoint"' in line]
        check("the node logs each checkpoint (a copy of the head outside the database)",
              any(entry.get("checkpoint") == (body or {}).get("checkpoint") for entry in logged)
              or any((body or {}).get("checkpoint", "-") in json.dumps(entry) for entry in logged), f"{len(logged)} log lines")
    finally:
        server.terminate()
        server.wait(timeout=30)
    if body:
        witness = os.path.join(root, "served-witness.txt")
        open(witness, "w").write(body["checkpoint"] + "\n")
        code, report = verify(SQLite(root), data, "--witness", witness)
        check("the published checkpoint verifies as a witness", code == 0 and report["intact"], json.dumps(findings(report)))


def main():
    global BIN, ROOT_TMP
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    parser.add_argument("--postgres-url", default=os.environ.get("SIGIL_AUDIT_POSTGRES_URL") or os.environ.get("SIGIL_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    BIN = os.path.abspath(args.bin)
    if not os.path.exists(BIN):
        print(f"no binary at {BIN}: swift build first")
        return 2
    ROOT_TMP = tempfile.mkdtemp(prefix="sigil-audit-")
    backends = [SQLite(ROOT_TMP)]
    try:
        run(backends[0])
        served_checkpoint(ROOT_TMP)
        if args.postgres_url and shutil.which("psql"):
            pg = Postgres(args.postgres_url, ROOT_TMP)
            backends.append(pg)
            run(pg)
        else:
            print("SKIP postgres: set SIGIL_AUDIT_POSTGRES_URL (or SIGIL_TEST_POSTGRES_URL) and install psql")
    except Exception as error:  # a scenario that could not even run is a failure, not a crash
        check("the run completed", False, str(error))
    finally:
        for backend in backends:
            backend.cleanup()
        shutil.rmtree(ROOT_TMP, ignore_errors=True)
    if FAILED:
        print("failed checks: " + ", ".join(FAILED))
    print(f"{PASSED} passed, {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
