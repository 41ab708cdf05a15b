/// The identity verification capture page's script (`/assets/idv.js`, docs/idv.md): uploads each
/// piece of evidence as it is chosen or captured, runs the liveness challenge with the camera,
/// submits, follows a hand-off to the phone by polling, and leaves through `/continue`.
enum IDVAssets {
    // Not reformatted: served byte for byte.
    // swift-format-ignore
    static let script = #"""
    "use strict";
    (function () {
      const root = document.getElementById("idv");
      if (!root) return;
      const base = document.body.dataset.base || "";
      const sid = root.dataset.sid;
      const onPhone = root.dataset.phone === "true";
      const csrf = (document.querySelector('meta[name="sigil-idv-csrf"]') || {}).content || "";
      const statusLine = document.getElementById("status");
      const url = (tail) => base + "/idv/" + sid + tail;
      let leaving = false, busy = 0, stream = null;

      function say(state, text) {
        statusLine.dataset.state = state;
        statusLine.textContent = text;
        statusLine.className = state === "error" ? "error" : "";
      }
      function leave(next) {
        if (leaving || !next) return;
        leaving = true;
        window.location.assign(next);
      }
      async function call(method, tail, body, type) {
        const headers = { "X-Sigil-CSRF": csrf };
        if (type) headers["Content-Type"] = type;
        const response = await fetch(url(tail), { method, credentials: "same-origin", headers, body });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) {
          const error = new Error(data.message || ("request failed: " + response.status));
          error.code = data.error;
          throw error;
        }
        return data;
      }
      async function upload(kind, body, type) {
        busy++;
        say("uploading", "Uploading " + kind.replace("_", " ") + "…");
        try {
          const data = await call("POST", "/evidence/" + kind, body, type);
          const advice = (data.advice || []).map((a) => retake[a] || a);
          say("uploaded", "Received: " + data.evidence.join(", ").replace(/_/g, " ") + "." +
            (advice.length ? " Consider a retake of the " + kind.replace("_", " ") + ": " + advice.join("; ") + "." : ""));
        } catch (e) {
          say("error", e.message);
        } finally {
          busy--;
        }
      }
      const retake = {
        blurry: "it is blurry (hold still, let the camera focus)",
        glare: "there is glare (tilt the document away from the light)",
        too_dark: "it is too dark (find more light)",
        too_small: "it is too small (move closer so the document fills the frame)",
      };
      function b64url(buffer) {
        const bytes = new Uint8Array(buffer);
        let bin = "";
        for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      }

      // Files: each image is uploaded when chosen; the chip once all three files are there.
      document.querySelectorAll("input[type=file][data-kind]").forEach((input) => {
        input.addEventListener("change", () => {
          const file = input.files[0];
          if (file) upload(input.dataset.kind, file, file.type || "application/octet-stream");
        });
      });
      let chipSent = false;
      async function sendChip() {
        const parts = {};
        for (const input of document.querySelectorAll("input[type=file][data-chip]")) {
          if (!input.files[0]) return false;
          parts[input.dataset.chip] = b64url(await input.files[0].arrayBuffer());
        }
        await upload("chip", JSON.stringify(parts), "application/json");
        chipSent = true;
        return true;
      }
      document.querySelectorAll("input[type=file][data-chip]").forEach((input) => {
        input.addEventListener("change", () => { chipSent = false; sendChip(); });
      });

      // The camera: a selfie, the document, and the liveness challenge's frames.
      const video = document.getElementById("camera-video");
      const startCamera = document.getElementById("camera-start");
      function frame(width) {
        const canvas = document.createElement("canvas");
        const scale = Math.min(1, width / (video.videoWidth || width));
        canvas.width = Math.round((video.videoWidth || 640) * scale);
        canvas.height = Math.round((video.videoHeight || 480) * scale);
        canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
        return canvas;
      }
      if (startCamera) {
        startCamera.addEventListener("click", async () => {
          try {
            stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false });
            video.srcObject = stream;
            video.hidden = false;
            await video.play().catch(() => {});
            document.querySelectorAll("[id^=camera-capture-], #liveness-start").forEach((b) => { b.hidden = false; });
            say("ready", "Camera on. Look at the camera in good light.");
          } catch (e) {
            say("error", "The camera is not available (" + e.name + "). Upload a photo instead.");
          }
        });
      }
      document.querySelectorAll("[id^=camera-capture-]").forEach((button) => {
        button.addEventListener("click", () => {
          const kind = button.id.replace("camera-capture-", "");
          frame(1280).toBlob((blob) => { if (blob) upload(kind, blob, "image/jpeg"); }, "image/jpeg", 0.92);
        });
      });
      const instructions = { neutral: "Look straight at the camera", turn_left: "Turn your head to your left", turn_right: "Turn your head to your right", blink: "Blink slowly" };
      const livenessButton = document.getElementById("liveness-start");
      if (livenessButton) {
        livenessButton.addEventListener("click", async () => {
          if (!stream) { say("error", "Turn the camera on first."); return; }
          const instruction = document.getElementById("camera-instruction");
          try {
            const c = await call("POST", "/liveness", "{}", "application/json");
            const frames = [];
            const start = performance.now();
            const slot = c.step_seconds * 1000;
            for (let step = 0; step < c.steps.length; step++) {
              instruction.textContent = instructions[c.steps[step]] || c.steps[step];
              while (performance.now() - start < (step + 1) * slot) {
                await new Promise((r) => setTimeout(r, 250));
                const t = Math.round(performance.now() - start);
                if (t >= (step + 1) * slot) break;
                const data = frame(480).toDataURL("image/jpeg", 0.8).split(",")[1];
                frames.push({ step, t, image: data });
              }
            }
            instruction.textContent = "Done.";
            await upload("liveness", JSON.stringify({ challenge: c.challenge, frames }), "application/json");
          } catch (e) {
            say("error", e.message);
          }
        });
      }

      // Submit, cancel, and follow the session (a phone may finish it).
      document.getElementById("submit").addEventListener("click", async () => {
        if (busy > 0) { say("uploading", "Still uploading: try again in a moment."); return; }
        try {
          if (!chipSent) await sendChip();
          say("checking", "Checking your document" + (root.dataset.face === "true" ? " and your face" : "") + "…");
          const type = document.getElementById("document-type").value;
          const data = await call("POST", "/submit", JSON.stringify({ document_type: type }), "application/json");
          say("decided", data.status === "VERIFIED" ? "Verified." : "We could not verify your identity.");
          if (data.next) leave(data.next); else say("decided", "Done here. Go back to your computer to continue.");
        } catch (e) {
          say("error", e.message);
        }
      });
      document.getElementById("cancel").addEventListener("click", async () => {
        try {
          const data = await call("POST", "/cancel", "{}", "application/json");
          say("cancelled", "Cancelled.");
          if (data.next) leave(data.next);
        } catch (e) {
          say("error", e.message);
        }
      });
      if (!onPhone) {
        const poll = async () => {
          if (leaving) return;
          try {
            const data = await call("GET", "/status");
            if (data.next && (data.state === "decided" || data.state === "cancelled")) {
              say(data.state, data.state === "decided" ? "Finished on your phone." : "Cancelled.");
              leave(data.next);
              return;
            }
          } catch (e) { /* transient: try again */ }
          setTimeout(poll, 2000);
        };
        setTimeout(poll, 2000);
      }
    })();
    """#
}
