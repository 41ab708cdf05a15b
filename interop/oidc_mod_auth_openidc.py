#!/usr/bin/env python3
"""Interop: Apache httpd with Debian's mod_auth_openidc as a relying party of the real `sigil serve`.

Generates a minimal apache2.conf in a temp dir (its own ServerRoot, PidFile, ErrorLog; prefork,
mod_cgi, mod_auth_openidc) listening on a free port, with OIDCProviderMetadataURL pointing at
Sigil's discovery, OIDCRedirectURI on that Apache, PKCE S256, client_secret_basic, and a client
registered with `sigil app create-oidc`. `/protected/claims` is a shell CGI that prints the
OIDC_CLAIM_* variables mod_auth_openidc passes on. Headless Chromium (signed out) visits it, is
sent to Sigil's hosted login, signs in with the virtual passkey and lands back on the page, which
must show the user's email and sub. Then mod_auth_openidc's logout (RP-initiated logout at
Sigil with id_token_hint) ends both sessions.

Must run as root (Apache drops to www-data for the CGI). Needs apache2 and
libapache2-mod-auth-openidc: scripts/install-apache-oidc.sh.

    /opt/peers-venv/bin/python interop/oidc_mod_auth_openidc.py [--sigil .build/debug/sigil] [--artifacts DIR]
"""
import argparse, os, secrets, signal, subprocess, sys, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oidc_common import Sigil, check, free_port  # noqa: E402

import requests
from selenium.webdriver.common.by import By

MODULES = "/usr/lib/apache2/modules"

CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "REMOTE_USER=$REMOTE_USER"
env | grep '^OIDC_CLAIM_' | sort
"""


def apache_conf(root, port, issuer, client_id, client_secret):
    return f"""ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn auth_openidc:info
LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so
LoadModule authn_core_module {MODULES}/mod_authn_core.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule authz_user_module {MODULES}/mod_authz_user.so
LoadModule alias_module {MODULES}/mod_alias.so
LoadModule cgi_module {MODULES}/mod_cgi.so
LoadModule auth_openidc_module {MODULES}/mod_auth_openidc.so
User www-data
Group www-data
DocumentRoot "{root}/htdocs"
<Directory "{root}/cgi">
    Options +ExecCGI
</Directory>
ScriptAlias /protected/claims "{root}/cgi/claims.cgi"

OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase {secrets.token_hex(24)}
OIDCScope "openid email profile"
OIDCPKCEMethod S256
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCRemoteUserClaim email
OIDCPassClaimsAs environment
OIDCSSLValidateServer Off
<Location /protected>
    AuthType openid-connect
    Require valid-user
</Location>
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigil", default=os.environ.get("SIGIL_BIN", ".build/debug/sigil"))
    ap.add_argument("--artifacts", default=None)
    args = ap.parse_args()
    s = Sigil(args.sigil, "sigil-oidc-apache-", args.artifacts)
    apache = None
    root = os.path.join(s.work, "apache")
    try:
        if not check("running as root (Apache drops to www-data)", os.geteuid() == 0):
            raise RuntimeError("run as root")
        if not check("mod_auth_openidc is installed", os.path.exists(f"{MODULES}/mod_auth_openidc.so"),
                     "run scripts/install-apache-oidc.sh"):
            raise RuntimeError("mod_auth_openidc missing")
        meta = s.enrol()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        reg = s.create_client("Apache mod_auth_openidc", "--redirect-uri", base + "/protected/redirect_uri",
                              "--post-logout-redirect-uri", base + "/bye")
        for d in (root, root + "/htdocs", root + "/cgi"):
            os.makedirs(d, exist_ok=True)
        os.chmod(s.work, 0o755)
        os.chmod(root, 0o755)
        with open(root + "/cgi/claims.cgi", "w") as f:
            f.write(CGI)
        os.chmod(root + "/cgi/claims.cgi", 0o755)
        with open(root + "/htdocs/bye", "w") as f:
            f.write("signed out\n")
        conf = root + "/apache2.conf"
        with open(conf, "w") as f:
            f.write(apache_conf(root, port, s.issuer, reg["client_id"], reg["client_secret"]))
        syntax = subprocess.run(["apache2", "-f", conf, "-t"], capture_output=True, text=True)
        check("apache2 -t accepts the generated configuration", syntax.returncode == 0, syntax.stderr)
        apache = subprocess.Popen(["apache2", "-f", conf, "-X"], stdout=subprocess.DEVNULL, stderr=open(root + "/stderr", "w"))
        up = False
        for _ in range(100):
            try:
                requests.get(base + "/", timeout=1)
                up = True
                break
            except Exception:
                time.sleep(0.1)
        check("Apache is listening", up)

        # Without a session mod_auth_openidc sends the user agent to Sigil with PKCE S256.
        r = requests.get(base + "/protected/claims", allow_redirects=False, timeout=10)
        loc = r.headers.get("Location", "")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(loc).query))
        check("unauthenticated: 302 to Sigil's authorization endpoint", r.status_code == 302 and loc.startswith(meta["authorization_endpoint"]),
              f"{r.status_code} {loc[:120]}")
        check("... with client_id, redirect_uri, state, nonce and PKCE S256", q.get("client_id") == reg["client_id"]
              and q.get("redirect_uri") == base + "/protected/redirect_uri" and q.get("state") and q.get("nonce")
              and q.get("code_challenge_method") == "S256", str(q))

        # The browser, signed out of Sigil: hosted login with the passkey, then back to the page.
        s.sign_out_browser()
        saw_login = False
        d = s.driver
        d.get("about:blank")
        d.execute_script("window.location.href = arguments[0]", base + "/protected/claims")
        deadline = time.time() + 40
        text = ""
        while time.time() < deadline:
            url = d.current_url
            if urllib.parse.urlparse(url).path.endswith("/login"):
                saw_login = True
                try:
                    d.find_element(By.ID, "passkey-button").click()
                except Exception:
                    pass
            if url == base + "/protected/claims":
                text = d.find_element(By.TAG_NAME, "body").text
                if "OIDC_CLAIM_" in text or "REMOTE_USER" in text:
                    break
            time.sleep(0.3)
        d.save_screenshot(os.path.join(s.artifacts, "apache-claims.png"))
        lines = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        check("the browser went through Sigil's hosted login and landed on the protected page",
              d.current_url == base + "/protected/claims" and bool(lines), d.current_url)
        check("the page shows OIDC_CLAIM_email and REMOTE_USER of the signed-in user",
              lines.get("OIDC_CLAIM_email") == "ada@example.com" and lines.get("REMOTE_USER") == "ada@example.com", text[:400])
        check("... and iss, sub, given_name from the ID token / userinfo", lines.get("OIDC_CLAIM_iss") == s.issuer
              and lines.get("OIDC_CLAIM_sub", "").startswith("usr_") and lines.get("OIDC_CLAIM_given_name") == "Ada", text[:400])
        d.get(base + "/protected/claims")
        check("a second visit uses mod_auth_openidc's session (no trip to Sigil)", "OIDC_CLAIM_email=ada@example.com" in
              d.find_element(By.TAG_NAME, "body").text and d.current_url == base + "/protected/claims", d.current_url)

        # Logout: mod_auth_openidc -> Sigil's end_session_endpoint (id_token_hint) -> back to /bye.
        d.get(base + "/protected/redirect_uri?" + urllib.parse.urlencode({"logout": base + "/bye"}))
        deadline = time.time() + 20
        while time.time() < deadline and not d.current_url.startswith(base + "/bye"):
            time.sleep(0.3)
        check("mod_auth_openidc logout goes through Sigil's end_session_endpoint back to /bye", d.current_url.startswith(base + "/bye"),
              d.current_url)
        cookie = {"sigil_session_default": s.session_cookie()}
        r = requests.get(s.issuer + "/account", cookies=cookie, allow_redirects=False, timeout=10)
        check("the Sigil session ended", r.status_code == 303 and "/login" in r.headers.get("Location", ""), str(r.status_code))
        with open(root + "/error.log") as f:
            log = f.read()
        errors = [line for line in log.splitlines() if ":error]" in line]
        check("no errors in Apache's error log", not errors, "\n".join(errors[:5]))
    except Exception as error:
        s.failed(error)
    finally:
        if apache:
            apache.send_signal(signal.SIGTERM)
            try:
                apache.wait(timeout=15)
            except subprocess.TimeoutExpired:
                apache.kill()
        if os.path.exists(root + "/error.log"):
            with open(root + "/error.log") as f:
                tail = f.read()[-3000:]
            if tail.strip() and os.environ.get("SIGIL_SHOW_APACHE_LOG"):
                print(tail)
        s.finish()


if __name__ == "__main__":
    main()
