#!/usr/bin/env python3
"""Checks the layering docs/architecture.md ("Shape", "Layering rules") promises:

  http-store     No file in Sources/SigilHTTP touches the store: no `.store` / `store.` member
                 access, no `.signals`, no `.transaction {`, no `tx.` (our name for the session of
                 a store transaction), no aggregate only a StoreSession has (`.audit.`,
                 `.loginTransactions.`, ...), no storage protocol of SigilStore (`Store`,
                 `StoreSession`, `…Store`, `ChangeSignal`, ...) and no `import SigilSQLStore`.
                 Record types (`Tenant`, `User`, `Session`, ...) are fine: SigilHTTP may
                 `import SigilStore` for them. Routes call services; services use the store.
  core-imports   Protocol cores (CORES below, and any `SigilFlows…` target) import no I/O or
                 higher module (FORBIDDEN_IN_CORES), in their sources or in the dependencies
                 Package.swift declares for them.
  services-http  SigilServices imports no HTTP server module (Hummingbird…, NIOHTTP…), in its
                 sources or its Package.swift dependencies.

Swift sources are read with comments removed and string literals blanked (interpolations
`\\(…)` are kept as code), so "no-store" in a header or a comment mentioning `store.` is no
violation. Package.swift is read as text: each `.target(` / `.executableTarget(` call, its
`name:`, `path:` and every string in its `dependencies: [...]` except `package:` names.

Usage:
  scripts/check-layering.py [--root DIR]   check the tree (default: this repository)
  scripts/check-layering.py --self-test    copy Package.swift and Sources/ to a temp dir, inject one
                                           deliberate violation per rule (and a stale allowlist
                                           entry), and assert the check fails each time, at the
                                           injected file:line
Prints one line per rule, PASS or FAIL, then `file:line: what` for each violation.
Exit 0 when every rule passes, 1 otherwise. Python 3 standard library only.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HTTP_TARGET = "SigilHTTP"
SERVICES_TARGET = "SigilServices"
STORE_TARGET = "SigilStore"

# Protocol cores: values in, values out; clock and randomness injected.
CORES = ["SigilCore", "SigilJOSE", "SigilOAuth", "SigilSAML", "SigilXML", "SigilWebAuthn", "SigilQR",
         "SigilAuthenticatorProtocol", "SigilIDV"]
# A target whose name starts with this is a core too (pure sign-in state machines).
CORE_PREFIXES = ["SigilFlows"]

# Modules a protocol core must not import: I/O (network, database, logging, lifecycle) and every
# Sigil module above the cores. A trailing `*` is a prefix.
FORBIDDEN_IN_CORES = [
    "Hummingbird*", "NIO*", "_NIO*", "AsyncHTTPClient", "SQLKit", "SQLiteKit", "SQLiteNIO", "PostgresKit",
    "PostgresNIO", "FoundationNetworking", "Logging", "ServiceLifecycle",
    "SigilStore", "SigilSQLStore", "SigilServices", "SigilHTTP", "SigilRemote", "SigilPush",
]
# HTTP server modules SigilServices must not import.
FORBIDDEN_IN_SERVICES = ["Hummingbird*", "NIOHTTP*", "SigilHTTP"]

# Store access SigilHTTP may still make, until the change that removes it lands. Each entry names
# the file, a regular expression for the line, and why. An entry that matches no violation fails
# the rule ("stale"), so a finished migration cannot leave a hole behind.
HTTP_STORE_ALLOWLIST: list = [
    # (empty: the admin API's audit list moved into AuditService with the generated admin API)
]


# --- Swift source reading -------------------------------------------------------------------

def code_only(text):
    """The text with comments and the contents of string literals replaced by spaces (newlines
    kept, so line numbers stay right). Interpolations inside strings stay code. Handles `"…"`,
    `\"\"\"…\"\"\"`, raw strings `#"…"#`, nested `/* */`."""
    out = []
    i, n = 0, len(text)
    # Frames: ["code", paren depth] or ["str", hashes, multiline]. The bottom frame is code.
    stack = [["code", 0]]
    string_start = re.compile(r'(#*)("""|")')
    while i < n:
        top = stack[-1]
        c = text[i]
        if top[0] == "code":
            if text.startswith("//", i):
                j = text.find("\n", i)
                j = n if j < 0 else j
                out.append(" " * (j - i))
                i = j
                continue
            if text.startswith("/*", i):
                depth, j = 0, i
                while j < n:
                    if text.startswith("/*", j):
                        depth += 1
                        j += 2
                    elif text.startswith("*/", j):
                        depth -= 1
                        j += 2
                        if depth == 0:
                            break
                    else:
                        j += 1
                out.append(re.sub(r"[^\n]", " ", text[i:j]))
                i = j
                continue
            m = string_start.match(text, i)
            if m and (c == '"' or c == "#"):
                hashes, quote = len(m.group(1)), m.group(2)
                out.append(" " * hashes + '"' + " " * (len(quote) - 1))
                stack.append(["str", hashes, quote == '"""'])
                i = m.end()
                continue
            if c == "(":
                top[1] += 1
            elif c == ")":
                if top[1] == 0 and len(stack) > 1:   # end of an interpolation
                    stack.pop()
                    out.append(")")
                    i += 1
                    continue
                top[1] -= 1
            out.append(c)
            i += 1
        else:
            hashes, multiline = top[1], top[2]
            escape = "\\" + "#" * hashes
            close = ('"""' if multiline else '"') + "#" * hashes
            if text.startswith(escape + "(", i):
                out.append(" " * len(escape) + "(")
                stack.append(["code", 0])
                i += len(escape) + 1
                continue
            if text.startswith(escape, i):
                k = i + len(escape) + 1
                out.append(re.sub(r"[^\n]", " ", text[i:k]))
                i = k
                continue
            if text.startswith(close, i):
                out.append('"' + " " * (len(close) - 1))
                stack.pop()
                i += len(close)
                continue
            out.append("\n" if c == "\n" else " ")
            i += 1
    if len(stack) != 1:
        raise ValueError("ends inside a string literal or an interpolation")
    return "".join(out)


def swift_files(root, directory):
    base = os.path.join(root, directory)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".swift"):
                path = os.path.join(dirpath, name)
                yield os.path.relpath(path, root), path


def code_lines(path):
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    try:
        code = code_only(raw)
    except ValueError as error:
        # Better to stop than to read code as string (and miss a violation in it).
        raise SystemExit("FAIL check-layering: cannot read %s: %s" % (path, error))
    return list(zip(raw.split("\n"), code.split("\n")))


IMPORT = re.compile(r"^\s*(?:@[\w]+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|private|fileprivate)\s+)?"
                    r"import\s+(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?([A-Za-z_]\w*)")


def imports(path):
    """(line number, module) for every import in a Swift file."""
    for number, (_, code) in enumerate(code_lines(path), 1):
        m = IMPORT.match(code)
        if m:
            yield number, m.group(1)


def forbidden(module, patterns):
    for p in patterns:
        if (p.endswith("*") and module.startswith(p[:-1])) or module == p:
            return True
    return False


# --- Package.swift --------------------------------------------------------------------------

class Target:
    def __init__(self, kind, name, path, line, dependencies):
        self.kind, self.name, self.path, self.line, self.dependencies = kind, name, path, line, dependencies


def matching(text, start, open_char, close_char):
    """Index of the bracket closing the one at `start`, skipping string literals."""
    depth, i, n = 0, start, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == open_char:
            depth += 1
        elif c == close_char:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced %s in Package.swift" % open_char)


def package_targets(root):
    with open(os.path.join(root, "Package.swift"), encoding="utf-8") as f:
        raw = f.read()
    # Comments blanked; strings kept (they are the data).
    text = re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), raw)
    targets = []
    for m in re.finditer(r"\.(target|executableTarget|testTarget)\s*\(", text):
        end = matching(text, m.end() - 1, "(", ")")
        body = text[m.end():end]
        name = re.search(r'\bname\s*:\s*"([^"]+)"', body)
        if not name:
            continue
        path = re.search(r'\bpath\s*:\s*"([^"]+)"', body)
        deps = []
        d = re.search(r"\bdependencies\s*:\s*\[", body)
        if d:
            open_at = m.end() + d.end() - 1
            close_at = matching(text, open_at, "[", "]")
            for s in re.finditer(r'(package\s*:\s*)?"([^"]+)"', text[open_at:close_at]):
                if s.group(1):
                    continue
                offset = open_at + s.start(2)
                deps.append((text.count("\n", 0, offset) + 1, s.group(2)))
        targets.append(Target(m.group(1), name.group(1), path.group(1) if path else "Sources/" + name.group(1),
                              text.count("\n", 0, m.start()) + 1, deps))
    return targets


# --- the rules ------------------------------------------------------------------------------

def store_vocabulary(root):
    """Storage protocols of SigilStore, and the aggregates only a StoreSession has (not also a
    ServiceSet member, so `services.users` stays fine but `tx.audit` / `x.loginTransactions` do not)."""
    protocols, session_members = {"ChangeSignal", "LocalChangeSignal", "SQLStore"}, set()
    for _, path in swift_files(root, os.path.join("Sources", STORE_TARGET)):
        code = "\n".join(c for _, c in code_lines(path))
        protocols.update(re.findall(r"\bprotocol\s+(\w+)", code))
        s = re.search(r"\bprotocol\s+StoreSession\b[^{]*\{", code)
        if s:
            block = code[s.end():matching(code, s.end() - 1, "{", "}")]
            session_members.update(re.findall(r"\bvar\s+(\w+)\s*:", block))
    service_members = set()
    service_set = os.path.join(root, "Sources", SERVICES_TARGET, "ServiceSet.swift")
    if os.path.exists(service_set):
        code = "\n".join(c for _, c in code_lines(service_set))
        service_members.update(re.findall(r"\b(?:var|let)\s+(\w+)\s*[:=]", code))
    return protocols, session_members - service_members


def check_http_store(root):
    violations, notes = [], []
    directory = os.path.join("Sources", HTTP_TARGET)
    if not os.path.isdir(os.path.join(root, directory)):
        return ["%s: missing (renamed? update scripts/check-layering.py)" % directory], notes
    protocols, session_only = store_vocabulary(root)
    if not protocols or not session_only:
        violations.append("Sources/%s: found no storage protocols or StoreSession members to look for" % STORE_TARGET)
    patterns = [
        (re.compile(r"\.\s*store\b"), "`.store` (the store itself)"),
        (re.compile(r"(?<![\w.])store\s*\."), "`store.` (the store itself)"),
        (re.compile(r"\.\s*signals\b"), "`.signals` (the store's change signals)"),
        (re.compile(r"\.\s*transaction\s*\{"), "`.transaction {` (a store transaction)"),
        (re.compile(r"(?<![\w.])tx\s*\.(?=\s*\w)"), "`tx.` (a store transaction's session)"),
        (re.compile(r"\bimport\s+SigilSQLStore\b"), "imports SigilSQLStore"),
    ]
    if session_only:
        patterns.append((re.compile(r"\.\s*(%s)\s*\.(?=\s*\w)" % "|".join(sorted(session_only))), "a StoreSession aggregate"))
    if protocols:
        patterns.append((re.compile(r"(?<![\w.])(%s)\b" % "|".join(sorted(protocols))), "a storage protocol"))
    used = [0] * len(HTTP_STORE_ALLOWLIST)
    for rel, path in swift_files(root, directory):
        for number, (raw, code) in enumerate(code_lines(path), 1):
            found = []
            for regex, what in patterns:
                m = regex.search(code)
                if m:
                    found.append("%s `%s`" % (what, m.group(0).strip()) if what == "a storage protocol" or
                                 what == "a StoreSession aggregate" else what)
            if not found:
                continue
            allowed = [k for k, (f, line, _) in enumerate(HTTP_STORE_ALLOWLIST) if f == rel and re.search(line, raw)]
            if allowed:
                for k in allowed:
                    used[k] += 1
                continue
            violations.append("%s:%d: %s" % (rel, number, "; ".join(found)))
    for k, (f, line, why) in enumerate(HTTP_STORE_ALLOWLIST):
        if used[k] == 0:
            violations.append("%s: stale allowlist entry /%s/ matches no store access any more; remove it from "
                              "HTTP_STORE_ALLOWLIST in scripts/check-layering.py" % (f, line))
        else:
            notes.append("allowlisted %s /%s/" % (f, line))
    return violations, notes


def check_imports_and_dependencies(root, names, patterns, targets, what):
    violations = []
    by_name = {t.name: t for t in targets}
    for name in names:
        target = by_name.get(name)
        if target is None:
            violations.append("Package.swift: no target %s (renamed? update scripts/check-layering.py)" % name)
            continue
        for line, dependency in target.dependencies:
            if forbidden(dependency, patterns):
                violations.append("Package.swift:%d: %s depends on %s (%s)" % (line, name, dependency, what))
        if not os.path.isdir(os.path.join(root, target.path)):
            violations.append("%s: missing (the sources of %s)" % (target.path, name))
            continue
        for rel, path in swift_files(root, target.path):
            for number, module in imports(path):
                if forbidden(module, patterns):
                    violations.append("%s:%d: %s imports %s (%s)" % (rel, number, name, module, what))
    return violations


def run_checks(root):
    """[(rule, description, violations, notes)]."""
    targets = package_targets(root)
    cores = CORES + [t.name for t in targets
                     if t.kind != "testTarget" and any(t.name.startswith(p) for p in CORE_PREFIXES) and t.name not in CORES]
    http, notes = check_http_store(root)
    return [
        ("http-store", "Sources/%s does not touch the store" % HTTP_TARGET, http, notes),
        ("core-imports", "protocol cores (%s) import no I/O or higher module" % ", ".join(cores),
         check_imports_and_dependencies(root, cores, FORBIDDEN_IN_CORES, targets, "I/O or higher module"), []),
        ("services-http", "%s imports no HTTP server module" % SERVICES_TARGET,
         check_imports_and_dependencies(root, [SERVICES_TARGET], FORBIDDEN_IN_SERVICES, targets, "HTTP server module"), []),
    ]


def report(results):
    ok = True
    for rule, description, violations, notes in results:
        extra = " (%s)" % "; ".join(notes) if notes else ""
        print("%s %s: %s%s" % ("FAIL" if violations else "PASS", rule, description, extra))
        for v in violations:
            print("    " + v)
        ok = ok and not violations
    return ok


# --- self-test ------------------------------------------------------------------------------

def append_line(path, line):
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    with open(path, encoding="utf-8") as f:
        return f.read().count("\n")


def insert_after(path, marker, line):
    """Inserts `line` after the first line containing `marker`; returns its line number."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for k, existing in enumerate(lines):
        if marker in existing:
            lines.insert(k + 1, line)
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
            return k + 2
    raise SystemExit("self-test: %s has no line with %r (update the self-test)" % (path, marker))


def first_swift(root, directory):
    for rel, _ in swift_files(root, directory):
        return rel
    raise SystemExit("self-test: no Swift file under %s" % directory)


def remove_lines(path, pattern):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    kept = [l for l in lines if not re.search(pattern, l)]
    if len(kept) == len(lines):
        raise SystemExit("self-test: %s has no line matching /%s/" % (path, pattern))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(kept))


def inject_http_store(root):
    rel = "Sources/SigilHTTP/LayeringViolation.swift"
    with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
        f.write("import SigilServices\n\n// store.health() in a comment is fine\n"
                "func ready(_ services: ServiceSet) async -> Bool {\n"
                "    await services.context.store.health().isReady\n}\n")
    return "http-store", "%s:5" % rel


def inject_http_session(root):
    rel = "Sources/SigilHTTP/LayeringViolation.swift"
    with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
        f.write('import SigilStore\n\nlet label = "tx.audit"\n'
                "func log(_ session: any StoreSession) {}\n")
    return "http-store", "%s:4" % rel


def inject_http_stale_allowlist(root):
    f, pattern, _ = HTTP_STORE_ALLOWLIST[0]
    remove_lines(os.path.join(root, f), pattern)
    return "http-store", "%s: stale allowlist entry" % f


def inject_core_import(root):
    rel = first_swift(root, "Sources/SigilCore")
    line = insert_after(os.path.join(root, rel), "import ", "import NIOCore")
    return "core-imports", "%s:%d" % (rel, line)


def inject_core_dependency(root):
    path = os.path.join(root, "Package.swift")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r'\.target\(\s*name:\s*"SigilJOSE",\s*dependencies:\s*\[\s*\n', text)
    if not m:
        raise SystemExit("self-test: Package.swift has no SigilJOSE target in the expected shape")
    text = text[:m.end()] + '                "SigilStore",\n' + text[m.end():]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return "core-imports", "Package.swift:%d" % (text.count("\n", 0, m.end()) + 1)


def inject_future_flows_target(root):
    path = os.path.join(root, "Package.swift")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Its own target, not otherwise named in the check: the prefix makes it a core.
    marker = "    targets: [\n"
    at = text.index(marker) + len(marker)
    text = (text[:at] + '        .target(name: "SigilFlowsSelfTest", dependencies: ["SigilCore"], path: "Sources/SigilFlowsSelfTest"),\n'
            + text[at:])
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.makedirs(os.path.join(root, "Sources/SigilFlowsSelfTest"), exist_ok=True)
    rel = "Sources/SigilFlowsSelfTest/Flow.swift"
    with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
        f.write("import SigilCore\n@preconcurrency import Logging\n")
    return "core-imports", "%s:2" % rel


def inject_services_import(root):
    rel = "Sources/SigilServices/ServiceSet.swift"
    line = insert_after(os.path.join(root, rel), "", "import Hummingbird")
    return "services-http", "%s:%d" % (rel, line)


def inject_services_dependency(root):
    path = os.path.join(root, "Package.swift")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r'\.target\(\s*name:\s*"SigilServices",\s*dependencies:\s*\[\s*\n', text)
    if not m:
        raise SystemExit("self-test: Package.swift has no SigilServices target in the expected shape")
    text = text[:m.end()] + '                .product(name: "Hummingbird", package: "hummingbird"),\n' + text[m.end():]
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return "services-http", "Package.swift:%d" % (text.count("\n", 0, m.end()) + 1)


INJECTIONS = [
    ("a route reads the store", inject_http_store),
    ("a route names StoreSession", inject_http_session),
    ("SigilCore imports NIOCore", inject_core_import),
    ("Package.swift: SigilJOSE depends on SigilStore", inject_core_dependency),
    ("a new SigilFlows… target imports Logging", inject_future_flows_target),
    ("SigilServices imports Hummingbird", inject_services_import),
    ("Package.swift: SigilServices depends on Hummingbird", inject_services_dependency),
]
# The stale-entry rule can only be shown failing while the allowlist has an entry.
if HTTP_STORE_ALLOWLIST:
    INJECTIONS.insert(1, ("an allowlisted store access moved away, its entry left behind", inject_http_stale_allowlist))


def copy_tree(source, destination):
    os.makedirs(destination)
    shutil.copy2(os.path.join(source, "Package.swift"), destination)
    shutil.copytree(os.path.join(source, "Sources"), os.path.join(destination, "Sources"))


def run_copy(root):
    """Runs this script on the copy as CI would; returns (exit code, output)."""
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--root", root],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return done.returncode, done.stdout


def self_test(source):
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="sigil-layering-") as temp:
        base = os.path.join(temp, "base")
        copy_tree(source, base)
        code, output = run_copy(base)
        if code == 0:
            print("PASS self-test: the unmodified copy passes every rule")
            passed += 1
        else:
            print("FAIL self-test: the unmodified copy already fails:\n" + output)
            failed += 1
        for k, (what, inject) in enumerate(INJECTIONS):
            tree = os.path.join(temp, "case%d" % k)
            shutil.copytree(base, tree)
            rule, where = inject(tree)
            code, output = run_copy(tree)
            rule_failed = re.search(r"^FAIL %s:" % re.escape(rule), output, re.M) is not None
            others_pass = all(re.search(r"^PASS %s:" % r, output, re.M) for r, _, _, _ in run_checks(base) if r != rule)
            cited = ("    " + where) in output
            if code != 0 and rule_failed and others_pass and cited:
                print("PASS self-test: %s -> %s fails at %s" % (what, rule, where))
                passed += 1
            else:
                print("FAIL self-test: %s -> expected %s to fail at %s (exit %d):\n%s" % (what, rule, where, code, output))
                failed += 1
    print("self-test: %d passed, %d failed" % (passed, failed))
    return failed == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=ROOT, help="repository root (Package.swift, Sources/)")
    parser.add_argument("--self-test", action="store_true", help="prove each rule can fail")
    args = parser.parse_args()
    if args.self_test:
        return 0 if self_test(args.root) else 1
    return 0 if report(run_checks(args.root)) else 1


if __name__ == "__main__":
    sys.exit(main())
