#!/usr/bin/env python3
"""Interop: redirect chains after Sigil's auto-submitting pages, in Chromium, as deployments run them.

Chromium applies CSP `form-action` to every redirect that follows a form submission, so a page
whose form is posted to a peer that answers with a redirect to yet another origin must allow that
origin too, or the browser stops with net::ERR_ABORTED and a console error "Sending form data to …
violates the following Content Security Policy directive: form-action …". Sigil (on
http://localhost:PORT) talks here to peers on 127.0.0.1 with their own ports (other origins):

* an Auth0-shaped SAML SP (pysaml2): its ACS `/login/callback?connection=sigil` verifies the posted
  SAMLResponse (`parse_authn_request_response`, xmlsec1) and answers 302 to its application on
  another origin; SP-initiated over HTTP-Redirect, signed in already (the Response is posted from
  /saml/sso at once) and from a signed-out browser (hosted login, passkey, the continue link);
* a control page with the policy Sigil used to send (`form-action` = the ACS origin only) must be
  blocked on the same chain, with the console message: the console check can fail;
* the single-use continue link opened again by the same browser answers the same request again
  (a Response pysaml2 accepts) instead of a 400 page;
* the login page with passkey autofill (conditional mediation) and the "Sign in with a passkey"
  button both triggered: one verify, one `session.started`, one Response at the SP;
* single logout: SP A starts (signed HTTP-Redirect LogoutRequest), Sigil propagates to SP B over
  HTTP-POST, B answers with a signed LogoutResponse over HTTP-Redirect, i.e. a 302 back to Sigil's
  /saml/slo right after the form POST (the Shibboleth pattern); A receives Success (not
  PartialLogout) over HTTP-POST and redirects to its application; the audit log has
  `saml.slo.propagated` success;
* OpenID Connect: an Okta-app-shaped confidential client, code + PKCE with response_mode=form_post,
  whose callback answers the POST with 302 to another origin; the code is exchanged and the ID
  token verified (authlib); a third-party client's consent page whose answer redirects (query mode)
  to a callback that redirects on; RP-initiated logout's confirm page redirecting to a
  post-logout URI that redirects on.

Every chain checks the final URL, that the last page was served, and that Chromium's console
(`goog:loggingPrefs` browser ALL) has no form-action violation.

    /opt/peers-venv/bin/python interop/redirect_chains.py [--sigil .build/debug/sigil] [--artifacts DIR]

Needs chromium, chromium-driver, xmlsec1 and `pip install selenium requests pysaml2 authlib`
(scripts/install-interop.sh). Prints PASS/FAIL per check and "N passed, M failed"; exits 1 if
anything failed.
"""
import base64, hashlib, json, os, secrets, sys, threading, time, traceback, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from passkey_signin import check, free_port, finish, launch, make_driver, wait_path, audit_events  # noqa: E402
from saml_sp import sp_client, cli  # noqa: E402

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, xmldsig
from saml2.metadata import entity_descriptor
from saml2.samlp import STATUS_SUCCESS
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED
from saml2.s_utils import success_status_factory

EMAIL = "ada@example.com"


# --- peers -------------------------------------------------------------------------------------

class Peer:
    """A tiny web server on 127.0.0.1 (its own origin). Routes map (method, path) to a function
    of (query, form) returning ("page", html), ("redirect", url) or ("status", code, html).
    Every request is recorded in `hits` (method, path, query, form, status, location, error)."""

    def __init__(self, name):
        self.name = name
        self.routes = {}
        self.hits = []
        self.cond = threading.Condition()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def serve(self, method):
                path, _, query = self.path.partition("?")
                form = {}
                if method == "POST":
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                    form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
                fn = peer.routes.get((method, path)) or peer.routes.get((method, "*"))
                hit = {"method": method, "path": path, "query": query, "form": form, "error": None}
                if fn is None:
                    result = ("status", 404, "not found")
                else:
                    try:
                        result = fn(query, form)
                    except Exception as error:  # the check reading this hit reports it
                        hit["error"] = repr(error)
                        result = ("status", 500, f"<h1 id='peer-error'>{error!r}</h1>")
                if result[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", result[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    hit.update(status=302, location=result[1])
                else:
                    status, html = (200, result[1]) if result[0] == "page" else (result[1], result[2])
                    data = html.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    for k, v in (result[3] if len(result) > 3 else {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    hit.update(status=status, location=None)
                with peer.cond:
                    peer.hits.append(hit)
                    peer.cond.notify_all()

            def do_GET(self):
                self.serve("GET")

            def do_POST(self):
                self.serve("POST")

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.port}"

    def matching(self, method, path, start=0):
        return [h for h in self.hits[start:] if h["method"] == method and h["path"] == path]

    def wait(self, method, path, start=0, count=1, timeout=30):
        with self.cond:
            self.cond.wait_for(lambda: len(self.matching(method, path, start)) >= count, timeout=timeout)
        found = self.matching(method, path, start)
        return found[count - 1] if len(found) >= count else None


def page(marker, text):
    return ("page", f"<html><body><h1 id='{marker}'>{text}</h1></body></html>")


# --- browser -----------------------------------------------------------------------------------

class Logs:
    """Chromium's console messages and network events, drained into lists (reading clears them in
    ChromeDriver); mark() and since() cut out one flow's share."""

    def __init__(self, driver):
        self.driver = driver
        self.console = []
        self.network = []

    def drain(self):
        self.console += self.driver.get_log("browser")
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") in ("Network.requestWillBeSent", "Network.responseReceived", "Network.loadingFailed"):
                self.network.append(message)

    def mark(self):
        self.drain()
        return len(self.console), len(self.network)

    def since(self, mark):
        self.drain()
        return self.console[mark[0]:], self.network[mark[1]:]


def csp_violations(console):
    return [e["message"] for e in console if "form-action" in e["message"] or "Content Security Policy" in e["message"]]


def requested(network, predicate):
    """URLs of requests (documents and redirects included) whose URL matches."""
    out = []
    for m in network:
        if m["method"] == "Network.requestWillBeSent":
            url = m["params"]["request"]["url"]
            if predicate(url):
                out.append(url)
    return out


def response_statuses(network, predicate):
    return [(m["params"]["response"]["url"], m["params"]["response"]["status"]) for m in network
            if m["method"] == "Network.responseReceived" and predicate(m["params"]["response"]["url"])]


def failures(network):
    return [(m["params"].get("errorText"), m["params"].get("blockedReason")) for m in network if m["method"] == "Network.loadingFailed"]


# Injected into each new document of the tab (CDP Page.addScriptToEvaluateOnNewDocument runs before
# the page's own script and is not subject to its CSP). On Sigil's /login it presses the form's
# submit button ("Sign in with a passkey") while passkey autofill is pending: MODE "get" as soon as
# the page's conditional-mediation navigator.credentials.get() starts, MODE "verify" when a
# credential has been chosen and its /login/passkey/verify request is about to go out. What
# happened is kept in sessionStorage (the tab's, Sigil's origin) as a list. The first verify's
# answer reaches the page 1.5 s late, so a second sign-in would have time to start and finish.
RACE_SCRIPT = r"""
(() => {
  if (!location.pathname.endsWith("/login")) return;
  const MODE = "%MODE%";
  const log = (what) => {
    try {
      const list = JSON.parse(sessionStorage.getItem("__race") || "[]");
      list.push(what);
      sessionStorage.setItem("__race", JSON.stringify(list));
    } catch (e) {}
  };
  log("load");
  let pressed = false;
  const press = (why) => {
    if (pressed) return;
    pressed = true;
    const button = document.getElementById("passkey-button");
    log("press:" + why + ":" + (button ? "button" : "none"));
    if (button) button.click();
  };
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = function (request) {
    const mediation = (request && request.mediation) || "modal";
    log("get:" + mediation);
    const p = get(request);
    p.then(() => log("got:" + mediation), (e) => log("get-failed:" + mediation + ":" + e.name));
    if (MODE === "get" && mediation === "conditional") press("autofill-pending");
    return p;
  };
  const fetch0 = window.fetch.bind(window);
  let verifies = 0;
  window.fetch = function (url, init) {
    if (String(url).indexOf("/login/passkey/verify") < 0) return fetch0(url, init);
    verifies += 1;
    log("verify");
    if (MODE === "verify") press("autofill-verifying");
    // A slow answer to the first verify (a loaded server, a slow network) keeps the window open in
    // which a second method could finish too.
    const answer = fetch0(url, init);
    return verifies === 1 ? answer.then((r) => new Promise((done) => setTimeout(() => done(r), 1500))) : answer;
  };
})();
"""


def main():
    binary, work, artifacts, port, base, proc, link = launch("sigil-chains-")
    idp_entity = base + "/saml/metadata"
    app, auth0_peer, sp_a, sp_b, rp = Peer("app"), Peer("auth0"), Peer("sp-a"), Peer("sp-b"), Peer("rp")
    peers = (app, auth0_peer, sp_a, sp_b, rp)
    driver = None
    saml_lock = threading.Lock()  # pysaml2 clients are used from the peers' threads
    try:
        if not check("sigil serve printed an enrolment link", bool(link)):
            return
        driver, _ = make_driver(logs=True)
        logs = Logs(driver)
        driver.get(link)
        driver.find_element(By.ID, "email").send_keys(EMAIL)
        driver.find_element(By.ID, "given_name").send_keys("Ada")
        driver.find_element(By.ID, "family_name").send_keys("Lovelace")
        driver.find_element(By.ID, "enroll-button").click()
        wait_path(driver, "/account")
        check("first administrator enrolled with a virtual passkey", True)
        token = cli(binary, work, "admin", "token", "create").stdout.strip()
        idp_metadata = os.path.join(work, "idp.xml")
        with open(idp_metadata, "w") as f:
            f.write(requests.get(idp_entity, timeout=10).text)

        # The application every peer hands the browser on to (another origin than the peers').
        app.routes[("GET", "*")] = lambda q, f: page("app-home", "application home")

        def sign_out_browser():
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})

        def session_started_ids():
            return {e["id"] for e in audit_events(base, token) if e["action"] == "session.started"}

        def follow(prefix, mark, timeout=30, click_login=True, dwell=1.5):
            """Waits until the browser's URL starts with prefix; on Sigil's /login, presses the
            passkey button once after `dwell` seconds unless autofill has already left the page.
            Gives up early once the console (since `mark`) reports a CSP violation: the chain is
            stopped, and waiting out the timeout would only slow down a failing run."""
            deadline = time.time() + timeout
            login_since = None
            clicked = False
            next_look = time.time() + 0.5
            while time.time() < deadline:
                current = driver.current_url
                if current.startswith(prefix):
                    return True
                if time.time() > next_look:
                    next_look = time.time() + 0.5
                    if csp_violations(logs.since(mark)[0]):
                        time.sleep(0.5)
                        return driver.current_url.startswith(prefix)
                if click_login and current.startswith(base) and urllib.parse.urlparse(current).path.endswith("/login"):
                    login_since = login_since or time.time()
                    if not clicked and time.time() - login_since > dwell:
                        clicked = True
                        try:
                            driver.find_element(By.ID, "passkey-button").click()
                        except Exception:
                            pass  # the page is leaving
                time.sleep(0.05)
            driver.save_screenshot(os.path.join(artifacts, f"stuck-{int(time.time())}.png"))
            return False

        def page_marker(marker):
            try:
                return bool(driver.find_elements(By.ID, marker))
            except Exception:
                return False

        def chain_checks(label, reached, final_prefix, mark, marker="app-home"):
            """The three checks every chain gets: final URL, last page served, console clean."""
            console, network = logs.since(mark)
            violations = csp_violations(console)
            check(f"{label}: the browser ends on {final_prefix}", reached and driver.current_url.startswith(final_prefix),
                  f"at {driver.current_url}; console: {violations or [e['message'] for e in console][-3:]}; failed loads: {failures(network)}")
            check(f"{label}: that page was served", page_marker(marker), driver.page_source[:200])
            check(f"{label}: no form-action violation in Chromium's console", not violations, " | ".join(violations)[:600])
            return console, network

        # ========== 1. Auth0-shaped SAML SP: ACS answers 302 to its application on another origin ==========
        auth0_entity = "urn:auth0:sigil-interop:sigil"
        auth0_acs = auth0_peer.base + "/login/callback?connection=sigil"
        auth0, _, _ = sp_client(work, idp_metadata, auth0_entity, auth0_acs, name="auth0", name_id_format=NAMEID_FORMAT_UNSPECIFIED)
        r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--entity-id", auth0_entity, "--acs-url", auth0_acs,
                "--name-id-format", "unspecified", "--json")
        check("Auth0-shaped SP registered (ACS /login/callback?connection=sigil)", r.returncode == 0, r.stdout + r.stderr)
        auth0_outstanding = {}

        def auth0_callback(query, form):
            # Auth0's /login/callback: verify the Response, then send the browser to the application.
            if query != "connection=sigil":
                return ("status", 400, "wrong connection")
            with saml_lock:
                resp = auth0.parse_authn_request_response(form["SAMLResponse"], BINDING_HTTP_POST, outstanding=dict(auth0_outstanding))
            if resp is None:
                return ("status", 400, "<h1 id='acs-refused'>refused</h1>")
            form["_verified"] = {"name_id": resp.get_subject().text, "in_response_to": resp.in_response_to, "id": resp.response.id}
            return ("redirect", app.base + "/app/saml?from=auth0")

        auth0_peer.routes[("POST", "/login/callback")] = auth0_callback
        # The control's legs: a page with the CSP Sigil used to send (the ACS origin only) posting to
        # the ACS server, which redirects to the application.
        auth0_peer.routes[("POST", "/bounce")] = lambda q, f: ("redirect", app.base + "/app/control")
        sp_a.routes[("GET", "/control")] = lambda q, f: (
            "status", 200, f"<html><body><form method='post' action='{auth0_peer.base}/bounce'><input type='hidden' name='x' value='1'>"
                           "</form><script>document.forms[0].submit()</script></body></html>",
            {"Content-Security-Policy": f"form-action {auth0_peer.base}"})

        def auth0_sso(label, fresh):
            reqid, info = auth0.prepare_for_authenticate(entityid=idp_entity, relay_state="auth0-" + label, binding=BINDING_HTTP_REDIRECT)
            auth0_outstanding[reqid] = "/"
            start = len(auth0_peer.hits)
            app_start = len(app.hits)
            mark = logs.mark()
            driver.get(dict(info["headers"])["Location"])
            reached = follow(app.base + "/app/saml", mark)
            console, network = chain_checks(f"Auth0 SP, {label}", reached, app.base + "/app/saml", mark)
            hit = auth0_peer.wait("POST", "/login/callback", start, timeout=2)
            verified = (hit or {}).get("form", {}).get("_verified")
            check(f"Auth0 SP, {label}: pysaml2 verified the posted Response (xmlsec1 signature, audience, InResponseTo)",
                  bool(verified) and verified["in_response_to"] == reqid and verified["name_id"] == EMAIL and hit["status"] == 302,
                  str(hit and {k: hit[k] for k in ("status", "error", "query")}))
            check(f"Auth0 SP, {label}: the ACS got the RelayState and answered 302 to the application",
                  bool(hit) and hit["form"].get("RelayState") == "auth0-" + label and hit["location"] == app.base + "/app/saml?from=auth0",
                  str(hit and hit.get("location")))
            check(f"Auth0 SP, {label}: the application (another origin) served the page",
                  len(app.matching("GET", "/app/saml", app_start)) == 1, str(app.hits[app_start:]))
            went_login = requested(network, lambda u: u.startswith(base + "/login"))
            continues = requested(network, lambda u: u.startswith(base + "/saml/sso/continue"))
            if fresh:
                check(f"Auth0 SP, {label}: went through the hosted login and the continue link", bool(went_login) and bool(continues),
                      f"login {went_login[:1]} continue {continues[:1]}")
            else:
                check(f"Auth0 SP, {label}: the Response was posted from /saml/sso at once (no login, no continue link)",
                      not went_login and not continues, f"{went_login[:1]} {continues[:1]}")
            return reqid, (continues[-1] if continues else None), verified

        # Control first: the console check sees a blocked chain.
        mark = logs.mark()
        driver.get(sp_a.base + "/control")
        deadline = time.time() + 10
        while time.time() < deadline and not app.matching("GET", "/app/control") and not csp_violations(logs.since(mark)[0]):
            time.sleep(0.1)
        time.sleep(0.5)
        console, network = logs.since(mark)
        violations = csp_violations(console)
        check("control: with Sigil's old policy (form-action = the ACS origin) Chromium stops the chain before the application",
              not driver.current_url.startswith(app.base) and not app.matching("GET", "/app/control"), driver.current_url)
        check("control: ... and says so in the console (form-action violation), so the console checks below can fail",
              any("form-action" in v for v in violations), str([e["message"] for e in console]))

        auth0_sso("signed in (Response from /saml/sso)", fresh=False)
        sign_out_browser()
        reqid_fresh, continue_url, first = auth0_sso("signed out (hosted login, continue link)", fresh=True)

        # ========== 4a. the continue link opened again by the same browser ==========
        if check("continue link: captured from the fresh sign-in", bool(continue_url), str(continue_url)):
            start = len(auth0_peer.hits)
            mark = logs.mark()
            driver.get(continue_url)
            reached = follow(app.base + "/app/saml", mark, timeout=20, click_login=False)
            console, network = chain_checks("continue link opened again", reached, app.base + "/app/saml", mark)
            statuses = response_statuses(network, lambda u: u == continue_url)
            check("continue link opened again: HTTP 200 (not 400 \"already answered\")", bool(statuses) and statuses[0][1] == 200, str(statuses))
            hit = auth0_peer.wait("POST", "/login/callback", start, timeout=2)
            again = (hit or {}).get("form", {}).get("_verified")
            check("continue link opened again: a new Response for the same request, which pysaml2 accepts",
                  bool(again) and again["in_response_to"] == reqid_fresh and again["name_id"] == EMAIL
                  and (first or {}).get("id") != again["id"], f"{hit and hit.get('error')} {again} first={first}")
            events = audit_events(base, token)
            repeated = [e for e in events if e["action"] == "saml.sso.repeated"]
            check("continue link opened again: audit log has saml.sso.repeated", len(repeated) == 1, str(len(repeated)))

        # ========== 4b. the login page: autofill and the button, one sign-in ==========
        for mode, what in (("verify", "pressed while autofill's credential is being verified"),
                           ("get", "pressed while the autofill request is pending")):
            label = f"login race, button {what}"
            sign_out_browser()
            driver.get(base + "/healthz")
            driver.execute_script("sessionStorage.removeItem('__race')")
            script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RACE_SCRIPT.replace("%MODE%", mode)})
            try:
                before = session_started_ids()
                reqid, info = auth0.prepare_for_authenticate(entityid=idp_entity, relay_state="race-" + mode, binding=BINDING_HTTP_REDIRECT)
                auth0_outstanding[reqid] = "/"
                start = len(auth0_peer.hits)
                mark = logs.mark()
                driver.get(dict(info["headers"])["Location"])
                # No click from here: the injected script presses the button. Only if autofill never
                # ran (no conditional mediation) press it, so the flow still ends and says why.
                reached = follow(app.base + "/app/saml", mark, timeout=12, click_login=False)
                if not reached:
                    reached = follow(app.base + "/app/saml", mark, timeout=15, click_login=True, dwell=0)
                time.sleep(2.5)  # a second sign-in, a second Response, would come now
            finally:
                driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
            console, network = chain_checks(label, reached, app.base + "/app/saml", mark)
            driver.get(base + "/healthz")
            trace = json.loads(driver.execute_script("return sessionStorage.getItem('__race')") or "[]")
            print(f"     ({label}: {trace})")
            check(f"{label}: autofill ran and the button was pressed while it was pending",
                  "get:conditional" in trace and any(t.startswith("press:") and t.endswith(":button") for t in trace), str(trace))
            check(f"{label}: exactly one /login/passkey/verify", trace.count("verify") == 1, str(trace))
            new = session_started_ids() - before
            check(f"{label}: exactly one session.started for the page load", len(new) == 1, str(len(new)))
            posts = auth0_peer.matching("POST", "/login/callback", start)
            check(f"{label}: the SP received exactly one Response, and pysaml2 accepts it",
                  len(posts) == 1 and (posts[0]["form"].get("_verified") or {}).get("in_response_to") == reqid,
                  str([(p["status"], p["error"]) for p in posts]))
            continue_statuses = response_statuses(network, lambda u: u.startswith(base + "/saml/sso/continue"))
            check(f"{label}: the continue link was opened once, answered 200", [s for _, s in continue_statuses] == [200],
                  str(continue_statuses))

        # ========== 3. single logout: B answers Sigil's POSTed LogoutRequest with a 302 (HTTP-Redirect) ==========
        sp_a_client, sp_a_conf, _ = sp_client(work, idp_metadata, sp_a.base + "/metadata", sp_a.base + "/acs", slo_url=sp_a.base + "/slo",
                                              sign_requests=True, name="spa", name_id_format=NAMEID_FORMAT_EMAILADDRESS)
        sp_b_client, sp_b_conf, _ = sp_client(work, idp_metadata, sp_b.base + "/metadata", sp_b.base + "/acs", slo_url=sp_b.base + "/slo",
                                              sign_requests=True, name="spb", name_id_format=NAMEID_FORMAT_EMAILADDRESS)
        registered = {}
        for name, conf in (("A", sp_a_conf), ("B", sp_b_conf)):
            meta = os.path.join(work, f"sp-{name}.xml")
            with open(meta, "w") as f:
                f.write(str(entity_descriptor(conf)))
            r = cli(binary, work, "app", "create-saml", "--tenant", "default", "--metadata", meta, "--json")
            registered[name] = json.loads(r.stdout) if r.returncode == 0 else {}
            check(f"SLO: SP {name} registered from its metadata (logout over HTTP-POST)",
                  registered[name].get("slo_url") == conf.entityid.replace("/metadata", "/slo"), r.stdout + r.stderr)
        outstanding = {"A": {}, "B": {}}
        slo = {}

        def acs_for(name, client):
            def acs(query, form):
                with saml_lock:
                    resp = client.parse_authn_request_response(form["SAMLResponse"], BINDING_HTTP_POST, outstanding=dict(outstanding[name]))
                form["_verified"] = resp is not None
                return page("acs-done", f"SP {name} signed in")
            return acs

        sp_a.routes[("POST", "/acs")] = acs_for("A", sp_a_client)
        sp_b.routes[("POST", "/acs")] = acs_for("B", sp_b_client)

        def b_slo(query, form):
            # Shibboleth-style: the LogoutRequest arrives over HTTP-POST, the LogoutResponse leaves
            # over HTTP-Redirect (signed over the query), a 302 back to the IdP.
            with saml_lock:
                req = sp_b_client.parse_logout_request(form["SAMLRequest"], BINDING_HTTP_POST)
                slo["b_request_signed"] = req.message.signature is not None
                slo["b_name_id"] = req.message.name_id.text
                slo["b_logged_out"] = bool(sp_b_client.local_logout(req.message.name_id))
                response = sp_b_client.create_logout_response(req.message, bindings=[BINDING_HTTP_REDIRECT],
                                                              status=success_status_factory(), sign=False)
                rinfo = sp_b_client.response_args(req.message, [BINDING_HTTP_REDIRECT])
                out = sp_b_client.apply_binding(BINDING_HTTP_REDIRECT, response, rinfo["destination"], form.get("RelayState"),
                                                response=True, sign=True, sigalg=xmldsig.SIG_RSA_SHA256)
            location = dict(out["headers"])["Location"]
            slo["b_location"] = location
            return ("redirect", location)

        def a_slo(query, form):
            with saml_lock:
                resp = sp_a_client.parse_logout_request_response(form["SAMLResponse"], BINDING_HTTP_POST)
                slo["a_in_response_to"] = resp.in_response_to
                status = resp.response.status.status_code
                slo["a_status"] = (status.value, status.status_code.value if status.status_code is not None else None)
                sp_a_client.handle_logout_response(resp)
            return ("redirect", app.base + "/app/signed-out")

        sp_b.routes[("POST", "/slo")] = b_slo
        sp_a.routes[("POST", "/slo")] = a_slo

        sign_out_browser()
        for name, client, peer in (("B", sp_b_client, sp_b), ("A", sp_a_client, sp_a)):
            reqid, info = client.prepare_for_authenticate(entityid=idp_entity, binding=BINDING_HTTP_REDIRECT, sigalg=xmldsig.SIG_RSA_SHA256)
            outstanding[name][reqid] = "/"
            start = len(peer.hits)
            driver.get(dict(info["headers"])["Location"])
            follow(peer.base + "/acs", logs.mark(), timeout=25)
            hit = peer.wait("POST", "/acs", start, timeout=5)
            check(f"SLO: signed in to SP {name} in the browser session{' (through the hosted login)' if name == 'B' else ''}",
                  bool(hit) and hit["form"].get("_verified") is True, str(hit and hit.get("error")))
        if not check("SLO: both SPs hold a session for the user", bool(sp_a_client.users.subjects()) and bool(sp_b_client.users.subjects())):
            raise RuntimeError("no single logout without two signed-in SPs")
        driver.get(base + "/healthz")  # cookies are read per site
        session_cookie = {"sigil_session_default": c["value"]} if (c := driver.get_cookie("sigil_session_default")) else {}
        events_before = {e["id"] for e in audit_events(base, token)}
        before_a = set(sp_a_client.state.keys())
        with saml_lock:
            out = sp_a_client.do_logout(sp_a_client.users.subjects()[0], [idp_entity], reason="", expire=None, sign=True,
                                        expected_binding=BINDING_HTTP_REDIRECT, sign_alg=xmldsig.SIG_RSA_SHA256,
                                        digest_alg=xmldsig.DIGEST_SHA256)
        logout_id = next(iter(set(sp_a_client.state.keys()) - before_a), None)
        b_start, a_start = len(sp_b.hits), len(sp_a.hits)
        mark = logs.mark()
        driver.get(dict(out[idp_entity][1]["headers"])["Location"])
        reached = follow(app.base + "/app/signed-out", mark, click_login=False)
        console, network = chain_checks("SLO chain (A starts, B answers over HTTP-Redirect)", reached, app.base + "/app/signed-out", mark)
        b_hit = sp_b.wait("POST", "/slo", b_start, timeout=1)
        check("SLO: B received Sigil's LogoutRequest over HTTP-POST, signed, for the user",
              bool(b_hit) and not b_hit["error"] and slo.get("b_request_signed") is True and slo.get("b_name_id") == EMAIL,
              str(b_hit and b_hit["error"]) + " " + str(slo))
        check("SLO: B logged the user out and answered 302 to Sigil's /saml/slo (signed HTTP-Redirect LogoutResponse)",
              slo.get("b_logged_out") is True and bool(b_hit) and b_hit["status"] == 302
              and (b_hit["location"] or "").startswith(base + "/saml/slo?SAMLResponse=") and "Signature=" in (b_hit["location"] or ""),
              str(b_hit and b_hit.get("location"))[:200])
        slo_statuses = response_statuses(network, lambda u: u.startswith(base + "/saml/slo?SAMLResponse="))
        check("SLO: the browser followed B's redirect and Sigil accepted the LogoutResponse",
              bool(slo_statuses) and all(s == 200 for _, s in slo_statuses), str(slo_statuses)[:300])
        a_hit = sp_a.wait("POST", "/slo", a_start, timeout=1)
        check("SLO: A received a LogoutResponse (HTTP-POST) pysaml2 accepts, answering its request",
              bool(a_hit) and not a_hit["error"] and slo.get("a_in_response_to") == logout_id,
              f"{a_hit and a_hit['error']} {slo.get('a_in_response_to')} != {logout_id}")
        check("SLO: its status is Success, not PartialLogout", slo.get("a_status") == (STATUS_SUCCESS, None), str(slo.get("a_status")))
        check("SLO: both SPs logged the user out", not sp_a_client.users.subjects() and not sp_b_client.users.subjects())
        r = requests.get(base + "/account", cookies=session_cookie, allow_redirects=False, timeout=10)
        check("SLO: Sigil's session ended (its cookie no longer opens /account)", bool(session_cookie) and r.status_code != 200,
              f"{r.status_code} {session_cookie and 'cookie'}")
        new_events = [e for e in audit_events(base, token) if e["id"] not in events_before]
        propagated = [e for e in new_events if e["action"] == "saml.slo.propagated"]
        check("SLO: audit log has saml.slo.propagated success for B and no failure",
              any(e["outcome"] == "success" for e in propagated) and all(e["outcome"] == "success" for e in propagated),
              json.dumps([{k: e.get(k) for k in ("outcome", "after", "reason")} for e in propagated])[:500])
        check("SLO: audit log has saml.slo (the session ended)", any(e["action"] == "saml.slo" and e["outcome"] == "success" for e in new_events),
              ",".join(e["action"] for e in new_events))

        # ========== 2. OIDC: form_post to a callback that redirects on; consent; RP-initiated logout ==========
        meta = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()
        out = cli(binary, work, "app", "create-oidc", "--tenant", "default", "--name", "Okta-shaped app",
                  "--redirect-uri", rp.base + "/cb", "--post-logout-redirect-uri", rp.base + "/bye", "--json")
        reg = json.loads(out.stdout) if out.returncode == 0 else {}
        check("OIDC: client registered (confidential, redirect URI on 127.0.0.1)", bool(reg.get("client_id")), out.stdout + out.stderr)
        out = cli(binary, work, "app", "create-oidc", "--tenant", "default", "--name", "Third party", "--consent", "required",
                  "--redirect-uri", rp.base + "/cb-query", "--json")
        reg3 = json.loads(out.stdout) if out.returncode == 0 else {}
        check("OIDC: third-party client registered (--consent required)", bool(reg3.get("client_id")), out.stdout + out.stderr)

        def rp_post_callback(query, form):
            return ("redirect", app.base + "/app/oidc")

        rp.routes[("POST", "/cb")] = rp_post_callback
        rp.routes[("GET", "/cb-query")] = lambda q, f: ("redirect", app.base + "/app/oidc-query")
        rp.routes[("GET", "/bye")] = lambda q, f: ("redirect", app.base + "/app/bye")

        def authorize_url(client_id, redirect_uri, mode=None):
            verifier = secrets.token_urlsafe(48)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            params = {"client_id": client_id, "response_type": "code", "scope": "openid email profile", "redirect_uri": redirect_uri,
                      "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16), "code_challenge": challenge,
                      "code_challenge_method": "S256"}
            if mode:
                params["response_mode"] = mode
            return meta["authorization_endpoint"] + "?" + urllib.parse.urlencode(params), params, verifier

        # form_post, from a signed-out browser (hosted login), the Okta-app shape.
        url, params, verifier = authorize_url(reg.get("client_id", ""), rp.base + "/cb", "form_post")
        start = len(rp.hits)
        mark = logs.mark()
        driver.get(url)
        reached = follow(app.base + "/app/oidc", mark)
        chain_checks("OIDC form_post", reached, app.base + "/app/oidc", mark)
        hit = rp.wait("POST", "/cb", start, timeout=1)
        form = (hit or {}).get("form", {})
        check("OIDC form_post: the callback received code, state and iss by POST and answered 302 to the application",
              bool(form.get("code")) and form.get("state") == params["state"] and form.get("iss") == base and hit["status"] == 302,
              str({k: v for k, v in form.items() if k != "code"}))
        tok = requests.post(meta["token_endpoint"], auth=(reg.get("client_id", ""), reg.get("client_secret", "")), timeout=10, data={
            "grant_type": "authorization_code", "code": form.get("code", ""), "redirect_uri": rp.base + "/cb", "code_verifier": verifier})
        body = tok.json() if tok.status_code == 200 else {}
        check("OIDC form_post: the code exchanges (client_secret_basic + PKCE)", "id_token" in body, f"{tok.status_code} {tok.text[:200]}")
        id_token = body.get("id_token", "")
        try:
            import warnings
            from authlib.deprecate import AuthlibDeprecationWarning
            warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)  # authlib.jose's notice (joserfc)
            from authlib.jose import JsonWebKey, JsonWebToken
            claims = JsonWebToken(["RS256"]).decode(id_token, JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json()),
                                                    claims_options={"iss": {"essential": True, "value": base},
                                                                    "aud": {"essential": True, "value": reg.get("client_id")},
                                                                    "nonce": {"essential": True, "value": params["nonce"]}})
            claims.validate(leeway=5)
            check("OIDC form_post: authlib verifies the ID token (RS256, JWKS, iss, aud, nonce)", claims.get("email") == EMAIL, str(dict(claims)))
        except Exception as error:
            check("OIDC form_post: authlib verifies the ID token (RS256, JWKS, iss, aud, nonce)", False, repr(error))

        # Consent page: its answer is a redirect (query mode) to a callback that redirects on.
        url, params, _ = authorize_url(reg3.get("client_id", ""), rp.base + "/cb-query")
        start = len(rp.hits)
        driver.get(url)
        saw_consent = False
        try:
            button = WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, "consent-allow"))[0]
            saw_consent = True
            mark = logs.mark()
            button.click()
        except Exception:
            mark = logs.mark()
        check("OIDC consent: the consent page was shown", saw_consent, driver.current_url)
        reached = follow(app.base + "/app/oidc-query", mark, timeout=20, click_login=False)
        chain_checks("OIDC consent (allow, then redirect, then redirect on)", reached, app.base + "/app/oidc-query", mark)
        hit = rp.wait("GET", "/cb-query", start, timeout=1)
        q = dict(urllib.parse.parse_qsl((hit or {}).get("query", "")))
        check("OIDC consent: the callback got a code and the state", bool(q.get("code")) and q.get("state") == params["state"],
              str({k: v for k, v in q.items() if k != "code"}))

        # RP-initiated logout without id_token_hint: the confirm page, then the post-logout URI, then on.
        driver.get(meta["end_session_endpoint"] + "?" + urllib.parse.urlencode(
            {"client_id": reg.get("client_id", ""), "post_logout_redirect_uri": rp.base + "/bye", "state": "bye-state"}))
        start = len(rp.hits)
        try:
            button = WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, "logout-confirm"))[0]
            mark = logs.mark()
            button.click()
            shown = True
        except Exception:
            mark, shown = logs.mark(), False
        check("RP-initiated logout: the confirm page was shown", shown, driver.current_url)
        reached = follow(app.base + "/app/bye", mark, timeout=20, click_login=False)
        chain_checks("RP-initiated logout (confirm, post-logout URI, then on)", reached, app.base + "/app/bye", mark)
        hit = rp.wait("GET", "/bye", start, timeout=1)
        check("RP-initiated logout: the post-logout URI got the state", bool(hit) and "state=bye-state" in hit["query"], str(hit and hit["query"]))
    except Exception as error:  # an unexpected failure is a failed check, never a silent pass
        traceback.print_exc()
        check("the flow ran to the end", False, repr(error))
        if driver:
            try:
                driver.save_screenshot(os.path.join(artifacts, "chains-failure.png"))
                print("page at failure:", driver.current_url, driver.page_source[:1500])
            except Exception:
                pass
    finally:
        if driver:
            try:
                driver.quit()
            except Exception:
                pass
        for peer in peers:
            peer.server.shutdown()
        finish(proc, work, artifacts)


if __name__ == "__main__":
    main()
