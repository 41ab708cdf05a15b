/// The hosted pages' script and stylesheet, served from `/assets/…` of each tenant. Kept in code
/// so the binary is self-contained; no third-party assets.
enum Assets {
    // Not reformatted: the script is served byte for byte (its hash is pinned in tests).
    // swift-format-ignore
    static let script = #"""
    "use strict";
    (function () {
      const body = document.body;
      const base = body.dataset.base || "";
      const page = body.dataset.page;
      const status = document.getElementById("status");

      // SAML HTTP-POST binding: submit the response form to the service provider on load.
      const autoSubmit = document.querySelector("form[data-auto-submit]");
      if (autoSubmit) { autoSubmit.submit(); }
      // SAML HTTP-Redirect binding (single logout hops): follow the link to the service provider.
      const autoFollow = document.querySelector("a[data-auto-follow]");
      if (autoFollow) { window.location.assign(autoFollow.href); }
      // A hop that must not stay in history (after a form POST): replaced, so Back skips it.
      const autoReplace = document.querySelector("a[data-auto-replace]");
      if (autoReplace) { window.location.replace(autoReplace.href); }

      // One sign-in per page: once a method has produced a sign-in (passkey autofill, the button,
      // a QR or push approval), the others are ignored and the page leaves exactly once, so a
      // single-use continue link is never opened twice from here.
      let leaving = false, verifying = false;
      function leave(url) {
        if (leaving) return;
        leaving = true;
        window.location.assign(url);
      }
      function say(text, isError) {
        if (!status) return;
        status.textContent = text;
        status.className = isError ? "error" : "";
      }
      function toBytes(b64url) {
        const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64url.length + 3) % 4);
        const bin = atob(b64);
        const out = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
        return out.buffer;
      }
      function toB64url(buffer) {
        const bytes = new Uint8Array(buffer);
        let bin = "";
        for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
        return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      }
      async function post(path, payload) {
        const response = await fetch(base + path, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload || {}),
        });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) {
          const detail = data.errors && data.errors.length ? data.errors.map((e) => e.message).join("; ") : (data.detail || data.title);
          throw new Error(detail || ("request failed: " + response.status));
        }
        return data;
      }
      function creationOptions(o) {
        o.challenge = toBytes(o.challenge);
        o.user.id = toBytes(o.user.id);
        (o.excludeCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
        return o;
      }
      function requestOptions(o) {
        o.challenge = toBytes(o.challenge);
        (o.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
        return o;
      }
      function credentialJSON(credential) {
        const r = credential.response;
        const json = { id: credential.id, rawId: toB64url(credential.rawId), type: credential.type, response: {
          clientDataJSON: toB64url(r.clientDataJSON) } };
        if (r.attestationObject) {
          json.response.attestationObject = toB64url(r.attestationObject);
          json.response.transports = r.getTransports ? r.getTransports() : [];
        }
        if (r.authenticatorData) {
          json.response.authenticatorData = toB64url(r.authenticatorData);
          json.response.signature = toB64url(r.signature);
          if (r.userHandle) json.response.userHandle = toB64url(r.userHandle);
        }
        return json;
      }
      function explain(error) {
        if (error && error.name === "NotAllowedError") return "The passkey request was cancelled or timed out. Try again.";
        if (error && error.name === "InvalidStateError") return "This device already has a passkey for this account.";
        return (error && error.message) || "Something went wrong.";
      }
      function deviceName() {
        const ua = navigator.userAgent;
        if (/iPhone|iPad/.test(ua)) return "iPhone or iPad";
        if (/Android/.test(ua)) return "Android phone";
        if (/Mac OS X/.test(ua)) return "Mac";
        if (/Windows/.test(ua)) return "Windows PC";
        if (/Linux/.test(ua)) return "Linux";
        return "Passkey";
      }
      async function register(optionsPath, verifyPath, payload) {
        const start = await post(optionsPath, payload);
        say("Follow your device's prompt to create the passkey…");
        const credential = await navigator.credentials.create({ publicKey: creationOptions(start.publicKey) });
        const done = await post(verifyPath, { transaction: start.transaction, name: deviceName(), credential: credentialJSON(credential) });
        window.location.assign(done.redirect);
      }

      // --- the Sigil authenticator: QR codes, push requests, device enrolment ---
      const finalStates = ["approved", "completed", "denied", "expired"];
      function watch(t, onSnapshot) {
        // Server-sent events, with polling of the snapshot as the fallback.
        let done = false, source = null, timer = null, failures = 0, received = false;
        function stop() { done = true; if (source) source.close(); if (timer) clearInterval(timer); }
        function handle(snapshot) {
          if (done) return;
          if (finalStates.indexOf(snapshot.state) >= 0) stop();
          onSnapshot(snapshot);
        }
        function poll() {
          if (timer || done) return;
          timer = setInterval(() => {
            fetch(t.status, { credentials: "same-origin", cache: "no-store" })
              .then((r) => (r.ok ? r.json() : { state: "expired" })).then(handle).catch(() => {});
          }, 2000);
        }
        if (window.EventSource) {
          source = new EventSource(t.events);
          ["waiting", "scanned", "approved", "completed", "denied", "expired"].forEach((name) => {
            source.addEventListener(name, (event) => { received = true; failures = 0; handle(JSON.parse(event.data)); });
          });
          source.onerror = () => {
            if (done) return;
            failures += 1;
            if (failures >= 3 && !received) { source.close(); poll(); }
          };
        } else {
          poll();
        }
        return { stop };
      }
      function refusal(reason) {
        if (reason === "declined") return "The sign-in was declined on the phone.";
        if (reason === "superseded") return "A newer request replaced this one.";
        if (reason === "cancelled") return "Cancelled.";
        return "The number did not match, or there were too many attempts. Start again.";
      }

      if (page === "login" && document.getElementById("authenticator")) {
        const form = document.getElementById("login-form");
        const returnTo = form.dataset.returnTo;
        const authStatus = document.getElementById("auth-status");
        const qrImage = document.getElementById("qr-image");
        const qrLink = document.getElementById("qr-link");
        const qrNumber = document.getElementById("qr-number");
        const qrRefresh = document.getElementById("qr-refresh");
        const pushButton = document.getElementById("push-button");
        const pushNumber = document.getElementById("push-number");
        function sayAuth(text, isError) { authStatus.textContent = text; authStatus.className = isError ? "error" : ""; }
        async function finish(t) {
          if (leaving || verifying) return;
          verifying = true;
          sayAuth("Approved. Signing you in…");
          try {
            const done = await post("/login/transactions/" + t.transaction + "/complete", {});
            leave(done.redirect);
          } catch (error) { verifying = false; sayAuth(error.message, true); }
        }
        let qrStarts = 0, qrWatch = null;
        async function startQR() {
          qrStarts += 1;
          const t = await post("/login/qr/start", form.dataset.liveid ? { return_to: returnTo, user_verification: "biometric" } : { return_to: returnTo });
          qrImage.src = t.qr;
          qrImage.hidden = false;
          qrLink.href = t.deep_link;
          qrNumber.textContent = "";
          qrRefresh.hidden = true;
          qrWatch = watch(t, (s) => {
            if (s.state === "scanned") {
              qrNumber.textContent = s.number;
              sayAuth("Type " + s.number + " into the Sigil app to continue.");
            } else if (s.state === "approved") {
              finish(t);
            } else if (s.state === "denied") {
              qrImage.hidden = true; qrNumber.textContent = ""; qrRefresh.hidden = false;
              sayAuth(refusal(s.reason), true);
            } else if (s.state === "expired") {
              qrNumber.textContent = "";
              if (qrStarts < 5) { startQR().catch((error) => sayAuth(error.message, true)); }
              else { qrImage.hidden = true; qrRefresh.hidden = false; sayAuth("The code expired."); }
            }
          });
        }
        qrRefresh.addEventListener("click", () => { qrStarts = 0; sayAuth(""); startQR().catch((error) => sayAuth(error.message, true)); });
        startQR().catch((error) => sayAuth(error.message, true));
        // LiveID (no passkey on this page): Enter in the email field sends the request to the phone.
        if (form.dataset.liveid) form.addEventListener("submit", (event) => { event.preventDefault(); pushButton.click(); });
        pushButton.addEventListener("click", async () => {
          const email = (form.elements.namedItem("username").value || "").trim();
          if (!email) { sayAuth("Enter your email first.", true); form.elements.namedItem("username").focus(); return; }
          pushButton.disabled = true;
          setTimeout(() => { pushButton.disabled = false; }, 30000);
          try {
            const start = { email: email, return_to: returnTo };
            if (form.dataset.liveid) start.user_verification = "biometric";
            const t = await post("/login/push/start", start);
            pushNumber.textContent = t.number;
            sayAuth("If this account uses the Sigil app, your phone has a request. Enter " + t.number + " on it. Nothing arrived? Use the QR code instead.");
            watch(t, (s) => {
              if (s.state === "approved") finish(t);
              else if (s.state === "denied") { pushNumber.textContent = ""; sayAuth(refusal(s.reason), true); }
              else if (s.state === "expired") { pushNumber.textContent = ""; sayAuth("The request timed out. Try again."); }
            });
          } catch (error) { sayAuth(error.message, true); }
        });
      }

      if (page === "account") {
        const addDevice = document.getElementById("add-device");
        const panel = document.getElementById("device-panel");
        const deviceStatus = document.getElementById("device-status");
        if (addDevice) addDevice.addEventListener("click", async () => {
          try {
            const t = await post("/account/devices/enroll", {});
            document.getElementById("device-qr").src = t.qr;
            document.getElementById("device-link").href = t.link;
            panel.hidden = false;
            panel.scrollIntoView({ block: "center" });
            deviceStatus.textContent = "Scan the code with the Sigil authenticator.";
            watch(t, (s) => {
              if (s.state === "scanned") deviceStatus.textContent = "Confirm on your phone…";
              else if (s.state === "completed") { deviceStatus.textContent = "Added."; window.location.reload(); }
              else if (s.state === "denied") { panel.hidden = true; deviceStatus.textContent = "That did not work; try again."; }
              else if (s.state === "expired") { panel.hidden = true; deviceStatus.textContent = "The code expired; try again."; }
            });
          } catch (error) { deviceStatus.textContent = error.message; }
        });
      }

      if (page === "step-up") {
        const form = document.getElementById("step-up-form");
        const stepUpPush = document.getElementById("step-up-push");
        const stepUpNumber = document.getElementById("step-up-number");
        if (stepUpPush) stepUpPush.addEventListener("click", async () => {
          if (leaving || verifying) return;
          stepUpPush.disabled = true;
          setTimeout(() => { stepUpPush.disabled = false; }, 30000);
          try {
            const t = await post("/login/upstream/step-up/push", { flow: form.dataset.flow });
            stepUpNumber.textContent = t.number;
            say("Your phone has a request from the Sigil authenticator. Enter " + t.number + " on it.");
            watch(t, (s) => {
              if (s.state === "approved") {
                say("Approved. Signing you in…");
                post("/login/upstream/step-up/authenticator", { flow: form.dataset.flow, transaction: t.transaction })
                  .then((done) => leave(done.redirect))
                  .catch((error) => { stepUpPush.disabled = false; say(error.message, true); });
              // The button comes back when the 30 s between pushes to one user have passed (the
              // timer above): a push sent sooner would be suppressed and never reach the phone.
              } else if (s.state === "denied") { stepUpNumber.textContent = ""; say(refusal(s.reason) + " You can send a new request shortly.", true); }
              else if (s.state === "expired") { stepUpNumber.textContent = ""; say("The request timed out. You can send a new one shortly."); }
            });
          } catch (error) { stepUpPush.disabled = false; say(error.message, true); }
        });
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          if (leaving || verifying) return;
          verifying = true;
          say("Follow your device's prompt…");
          (async () => {
            const start = await post("/login/upstream/step-up/options", { flow: form.dataset.flow });
            const credential = await navigator.credentials.get({ publicKey: requestOptions(start.publicKey) });
            say("Checking…");
            const done = await post("/login/upstream/step-up/verify", {
              flow: form.dataset.flow, transaction: start.transaction, credential: credentialJSON(credential),
            });
            leave(done.redirect);
          })().catch((error) => { verifying = false; say(explain(error), true); });
        });
      }

      if (page === "enroll") {
        const deviceButton = document.getElementById("enroll-device");
        const devicePanel = document.getElementById("enroll-device-panel");
        const deviceStatus = document.getElementById("enroll-device-status");
        if (deviceButton) deviceButton.addEventListener("click", async () => {
          const form = document.getElementById("enroll-form");
          const data = {};
          ["email", "given_name", "family_name"].forEach((name) => {
            const input = form.elements.namedItem(name);
            if (input) data[name] = input.value.trim();
          });
          const token = window.location.pathname.split("/").pop();
          try {
            const t = await post("/enroll/" + token + "/device", data);
            document.getElementById("enroll-device-qr").src = t.qr;
            document.getElementById("enroll-device-link").href = t.link;
            devicePanel.hidden = false;
            devicePanel.scrollIntoView({ block: "center" });
            deviceStatus.textContent = "Scan the code with the Sigil authenticator.";
            watch(t, async (s) => {
              if (s.state === "scanned") deviceStatus.textContent = "Confirm on your phone…";
              else if (s.state === "completed") {
                deviceStatus.textContent = "Phone added. Signing you in…";
                try {
                  const done = await post("/login/transactions/" + t.transaction + "/complete", {});
                  window.location.assign(done.redirect);
                } catch (error) { deviceStatus.textContent = error.message; }
              }
              else if (s.state === "denied") { devicePanel.hidden = true; deviceStatus.textContent = "That did not work; try again."; }
              else if (s.state === "expired") { devicePanel.hidden = true; deviceStatus.textContent = "The code expired; try again."; }
            });
          } catch (error) { deviceStatus.textContent = error.message; }
        });
      }

      if (!window.PublicKeyCredential) {
        say("This browser does not support passkeys; use the Sigil app instead.", true);
        return;
      }

      if (page === "login" && !document.getElementById("login-form").dataset.liveid) {
        const form = document.getElementById("login-form");
        const returnTo = form.dataset.returnTo;
        let conditional = null, modal = false;
        async function signIn(mediation) {
          const controller = new AbortController();
          if (mediation === "conditional") conditional = controller;
          const start = await post("/login/passkey/options", { return_to: returnTo });
          const request = { publicKey: requestOptions(start.publicKey), signal: controller.signal };
          if (mediation) request.mediation = mediation;
          const credential = await navigator.credentials.get(request);
          // Autofill and the button can both produce a credential: only the first signs in.
          if (leaving || verifying) return;
          verifying = true;
          say("Checking…");
          try {
            const done = await post("/login/passkey/verify", { transaction: start.transaction, credential: credentialJSON(credential) });
            leave(done.redirect);
          } catch (error) { verifying = false; throw error; }
        }
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          // A sign-in already finishing (autofill chose a passkey, an approval arrived), or the
          // button's own prompt still open: nothing more to start.
          if (leaving || verifying) { say("Signing you in…"); return; }
          if (modal) return;
          if (conditional) conditional.abort();
          modal = true;
          say("Follow your device's prompt…");
          signIn(null).catch((error) => say(explain(error), true)).finally(() => { modal = false; });
        });
        if (PublicKeyCredential.isConditionalMediationAvailable) {
          PublicKeyCredential.isConditionalMediationAvailable().then((ok) => {
            if (ok) signIn("conditional").catch((error) => { if (error.name !== "AbortError") say(explain(error), true); });
          });
        }
      }

      if (page === "enroll") {
        const form = document.getElementById("enroll-form");
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          const data = {};
          ["email", "given_name", "family_name"].forEach((name) => {
            const input = form.elements.namedItem(name);
            if (input) data[name] = input.value.trim();
          });
          const token = window.location.pathname.split("/").pop();
          register("/enroll/" + token + "/options", "/enroll/" + token + "/verify", data).catch((error) => say(explain(error), true));
        });
      }

      if (page === "account") {
        const button = document.getElementById("add-passkey");
        if (button) button.addEventListener("click", () => {
          register("/account/passkeys/options", "/account/passkeys/verify", {}).catch((error) => say(explain(error), true));
        });
      }
    })();
    """#

    // Not reformatted: served byte for byte.

    // swift-format-ignore
    static let stylesheet = #"""
    :root { color-scheme: light dark; --accent: #3b5bdb; --error: #c92a2a; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
    body { margin: 0; display: flex; justify-content: center; line-height: 1.5; }
    main { width: min(28rem, 100% - 2rem); margin: 3rem 1rem; }
    h1 { font-size: 1.5rem; }
    label { display: block; margin-top: 0.75rem; font-weight: 600; }
    input { width: 100%; box-sizing: border-box; padding: 0.6rem; font-size: 1rem; border: 1px solid #868e96; border-radius: 0.4rem; }
    button { margin-top: 1rem; padding: 0.6rem 1rem; font-size: 1rem; border-radius: 0.4rem; border: 0; background: var(--accent); color: white; cursor: pointer; }
    button.secondary { background: transparent; color: inherit; border: 1px solid #868e96; margin-top: 0.25rem; }
    button:focus-visible, input:focus-visible { outline: 3px solid #fab005; outline-offset: 2px; }
    .error { color: var(--error); }
    .hint, .meta { color: #868e96; font-size: 0.9rem; }
    ul#passkeys { padding: 0; list-style: none; }
    ul#passkeys li { padding: 0.5rem 0; border-bottom: 1px solid #dee2e6; }
    ul#passkeys form, ul#devices form { display: inline; }
    ul#devices { padding: 0; list-style: none; }
    ul#devices li { padding: 0.5rem 0; border-bottom: 1px solid #dee2e6; }
    #authenticator { margin-top: 2rem; border-top: 1px solid #dee2e6; }
    #authenticator h2 { font-size: 1.1rem; }
    .number { font-size: 2rem; font-weight: 700; letter-spacing: 0.2em; }
    #qr-image, #device-qr { image-rendering: pixelated; background: #fff; }
    @media (hover: hover) and (pointer: fine) { .phone-only { display: none; } }
    """#
}
