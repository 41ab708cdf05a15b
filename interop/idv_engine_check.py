#!/usr/bin/env python3
"""Checks sigil-idv-engine against real and generated inputs, and measures it.

Prints `PASS name` / `FAIL name` / `SKIP name: reason` lines and measurements, and ends with
"N passed, M failed" (exit 1 on any failure).

  faces   the photos in ../shared/fixtures/faces (read in place; SKIP when absent): the distance
          table, threshold 0.6 false accepts/rejects, the two-people photo, pose sign conventions
          on a rotated and a mirrored copy, time per request; the BSI 2008 test passport's DG2
          (JPEG 2000 inside CBEFF) as JP2 and as a raw J2K codestream.
  pdf417  AAMVA-like payloads rendered with pdf417gen, rotated 0/2/5/10/15 degrees (both signs)
          with mild blur and noise: exact round trip, success per angle with and without deskew.
  mrz     TD3 and TD1 zones rendered in OCR-B (Debian fonts-ocr-b), as a band and on a page, clean
          and degraded: per-character and per-line accuracy; a clean render must read exactly.
  quality document-like cards rendered here (text, MRZ-like band, photo area) sharp, Gaussian-blurred
          (radius 1, 2, 3, 5), with a white glare ellipse, darkened and reduced, and the fixture
          photos as selfies: the expected advice codes, the measured blur/glare/dark values; the
          measures against exact values; errors.
  text    the `text` op (only when `capabilities` answers "text": true; SKIP against an older engine) on
          synthetic US driving licence fronts (interop/idv_cards.py; the fixture faces as photos when
          present): the licence number, family name, given name and date of birth must be found in the
          lines (normalised: upper case, letters and digits) of every clean front; the rates on
          phone-like captures (turned 1-2 degrees, blurred, noisy, JPEG) are printed; a front printed with
          another family name must not show the barcode's; a card with only its photo gives none of them;
          errors, tiny images, tesseract data missing (engine_unavailable, exit 3).
  liveness synthetic liveness frames (interop/idv_liveness_frames.py) from one photo per fixture
          person (obama__a, biden__b, lin__a, astro__a; SKIP when absent): every frame measures
          as intended (turns 22 degrees or more from the photo's yaw, eyes shut under 0.5 x its
          eye aspect ratio, one face, descriptor within 0.6), the server's Liveness.evaluate
          rules (re-implemented in Python) pass on three challenge orders, a still photo fails
          every turn and blink, another person's frames fail against the selfie. A rendered
          injection of the actions, to test the protocol path: not a measure of liveness strength.
  robust  garbage, truncated and empty images, huge dimensions in headers, bad JSON, bad
          base64, unknown op, an oversized request: a JSON error with the documented exit
          status, never a crash; nothing written to stderr.

Engine: $SIGIL_IDV_ENGINE, else /usr/local/lib/sigil/sigil-idv-engine.
"""
import base64
import io
import json
import math
import os
import random
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(REPO), "shared", "fixtures")
ENGINE = os.environ.get("SIGIL_IDV_ENGINE", "/usr/local/lib/sigil/sigil-idv-engine")
THRESHOLD = 0.6

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}" + (f" ({detail})" if detail else ""))
    else:
        failed += 1
        print(f"FAIL {name}" + (f" ({detail})" if detail else ""))


def skip(name, reason):
    print(f"SKIP {name}: {reason}")


class Engine:
    """One `--serve` process; requests and responses are single JSON lines."""

    def __init__(self):
        self.proc = subprocess.Popen([ENGINE, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)

    def call(self, req):
        self.proc.stdin.write(json.dumps(req).encode() + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("engine closed its output")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=60)
        err = self.proc.stderr.read()
        return rc, err


def b64(data):
    return base64.b64encode(data).decode()


def img_bytes(im, fmt="PNG", **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def run_once(payload: bytes):
    p = subprocess.run([ENGINE], input=payload, capture_output=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


# ---------------------------------------------------------------- quality

def render_card(seed=0, width=1600):
    """A document-like card (tinted guilloche background, header, photo area, text lines, an
    MRZ-like band) lying on a darker table, as a phone would capture it."""
    height = int(width * 54 / 85.6)
    sans = lambda size: ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", size)
    ocrb_path = ocrb_font_path()
    mrz_font = ImageFont.truetype(ocrb_path, int(width * 0.028)) if ocrb_path else sans(int(width * 0.028))
    y, x = np.mgrid[0:height, 0:width]
    bg = np.stack([214 + 12 * np.sin(x / 90.0 + seed), 226 + 8 * np.cos(y / 70.0),
                   236 + 6 * np.sin((x + y) / 120.0)], -1)
    bg += 6 * np.sin(np.hypot(x - width / 2, y - height / 2) / 9.0)[..., None]
    im = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    W, H = width, height
    d.rectangle([0, 0, W, int(H * 0.13)], fill=(40, 70, 130))
    d.text((int(W * 0.04), int(H * 0.03)), "REPUBLIC OF UTOPIA  IDENTITY CARD", font=sans(int(H * 0.06)), fill=(255, 255, 255))
    px0, py0, px1, py1 = int(W * 0.04), int(H * 0.2), int(W * 0.3), int(H * 0.72)
    d.rectangle([px0, py0, px1, py1], fill=(170, 175, 180))
    cx, cy = (px0 + px1) // 2, (py0 + py1) // 2
    k = W / 1600
    d.ellipse([px0 + 20 * k, cy + 40 * k, px1 - 20 * k, py1 + 60 * k], fill=(50, 60, 90))
    d.ellipse([cx - 70 * k, cy - 120 * k, cx + 70 * k, cy + 60 * k], fill=(200, 160, 130))
    d.ellipse([cx - 75 * k, cy - 135 * k, cx + 75 * k, cy - 60 * k], fill=(60, 40, 30))
    for ex in (cx - 30 * k, cx + 30 * k):
        d.ellipse([ex - 9 * k, cy - 40 * k, ex + 9 * k, cy - 30 * k], fill=(40, 30, 30))
    d.line([cx - 25 * k, cy + 25 * k, cx + 25 * k, cy + 25 * k], fill=(120, 60, 60), width=max(1, int(4 * k)))
    rnd = np.random.default_rng(seed + 1)
    for i, label in enumerate(["Surname", "Given names", "Date of birth", "Nationality", "Document no.", "Date of expiry"]):
        ty = int(H * (0.2 + i * 0.085))
        d.text((int(W * 0.34), ty), label, font=sans(int(H * 0.03)), fill=(80, 80, 110))
        value = "".join(rnd.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")) for _ in range(int(rnd.integers(8, 18))))
        d.text((int(W * 0.34), ty + int(H * 0.032)), value, font=sans(int(H * 0.042)), fill=(20, 20, 30))
    d.rectangle([0, int(H * 0.74), W, H], fill=(236, 236, 226))
    for i in range(3):
        line = "".join(rnd.choice(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<<<<<<")) for _ in range(30))
        d.text((int(W * 0.05), int(H * (0.76 + i * 0.075))), line, font=mrz_font, fill=(10, 10, 10))
    m = int(W * 0.06)
    out = Image.new("RGB", (W + 2 * m, H + 2 * m), (112, 92, 70))
    out.paste(im, (m, m))
    return out


def add_glare(im, seed=0, scale=1.0):
    """A specular highlight: a white ellipse with a saturated core and a soft edge."""
    rng = np.random.default_rng(seed)
    W, H = im.size
    mask = Image.new("L", im.size, 0)
    cx, cy = W * (0.45 + 0.2 * rng.random()), H * (0.3 + 0.3 * rng.random())
    rx, ry = W * 0.11 * scale, H * 0.08 * scale
    ImageDraw.Draw(mask).ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    a = np.clip(np.asarray(mask.filter(ImageFilter.GaussianBlur(W * 0.02 * scale)), np.float32)[..., None] / 255.0 * 1.6, 0, 1)
    out = np.asarray(im, np.float32) * (1 - a) + 255 * a
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def darken(im, factor):
    return Image.fromarray((np.asarray(im, np.float32) * factor).astype(np.uint8))


def add_noise(im, sigma, seed=0):
    rng = np.random.default_rng(seed)
    a = np.asarray(im, np.float32)
    return Image.fromarray(np.clip(a + rng.normal(0, sigma, a.shape), 0, 255).astype(np.uint8))


def check_quality(eng):
    def q(im, kind, fmt="PNG"):
        data = img_bytes(im, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        return eng.call({"op": "quality", "image": b64(data), "kind": kind})

    def fmt_r(r):
        return (f"blur {r.get('blur')}, glare {r.get('glare')}, dark {r.get('dark')}, advice {r.get('advice')}"
                if r.get("ok") else json.dumps(r)[:200])

    shape_ok = None
    series = {}  # variant -> list of responses

    # Generated cards: two seeds, captured at 1792x1201 and 1120x750, as PNG and JPEG 90.
    for seed in (0, 1):
        for width in (1600, 1000):
            card = render_card(seed, width)
            for fmt in ("PNG", "JPEG"):
                tag = f"card seed {seed}, {card.width}x{card.height} {fmt}"
                variants = [("sharp", card)]
                variants += [(f"blur {r}", card.filter(ImageFilter.GaussianBlur(r))) for r in (1, 2, 3, 5)]
                variants += [(f"blur {r} + noise 4", add_noise(card.filter(ImageFilter.GaussianBlur(r)), 4)) for r in (3, 5)]
                variants += [("noise 4", add_noise(card, 4))]
                variants += [(f"glare x{s}", add_glare(card, seed, s)) for s in (0.5, 1.0, 1.5)]
                variants += [(f"dark x{f}", darken(card, f)) for f in (0.6, 0.45, 0.3, 0.15)]
                for name, im in variants:
                    r = q(im, "document", fmt)
                    if shape_ok is None:
                        shape_ok = (r.get("ok") is True and list(r) == ["ok", "width", "height", "blur", "glare", "dark", "advice"]
                                    and r["width"] == card.width and r["height"] == card.height)
                        check("quality: response shape {ok,width,height,blur,glare,dark,advice}", shape_ok, fmt_r(r))
                    series.setdefault(name, []).append(r)
                    adv = r.get("advice")
                    want = {"sharp": [], "noise 4": [], "blur 1": [], "blur 3": ["blurry"], "blur 5": ["blurry"],
                            "glare x1.0": ["glare"], "glare x1.5": ["glare"]}.get(name)
                    if want is not None:
                        check(f"quality: {tag}, {name} -> {want}", adv == want, fmt_r(r))
                    elif name in ("dark x0.3", "dark x0.15"):
                        check(f"quality: {tag}, {name} -> too_dark", isinstance(adv, list) and "too_dark" in adv, fmt_r(r))
            small = card.resize((560 * card.width // card.height, 560), Image.LANCZOS)
            r = q(small, "document")
            check(f"quality: card seed {seed} width {width} reduced to {small.width}x{small.height} -> ['too_small']",
                  r.get("advice") == ["too_small"], fmt_r(r))
    print("MEASURE quality on generated cards (document), min-max over 2 seeds x 2 sizes x PNG/JPEG 90:")
    for name, rs in series.items():
        rs = [r for r in rs if r.get("ok")]
        if not rs:
            continue
        col = lambda k: f"{min(r[k] for r in rs):g}-{max(r[k] for r in rs):g}"
        print(f"  {name:18s} blur {col('blur'):>14s}  glare {col('glare'):>13s}  dark {col('dark'):>13s}")

    # Fixture photos as selfies (read in place).
    faces_dir = os.path.join(FIXTURES, "faces")
    if not os.path.isdir(faces_dir):
        skip("quality: fixture photos", f"{faces_dir} is absent")
    else:
        print("MEASURE quality on the fixture photos (selfie): photo / blurred r 2, 3, 5 (at the 1000 px scale) / darkened x0.35, x0.25 / glare")
        for n in sorted(x for x in os.listdir(faces_dir) if x.lower().endswith((".jpg", ".jpeg", ".png"))):
            with open(os.path.join(faces_dir, n), "rb") as f:
                data = f.read()
            r = eng.call({"op": "quality", "image": b64(data), "kind": "selfie"})
            im = Image.open(io.BytesIO(data)).convert("RGB")
            short = min(r.get("width", 0), r.get("height", 0))
            # The contract's own size rule: a photo under 300 px on its shorter side is too small.
            want = ["too_small"] if short < 300 else []
            check(f"quality: fixture {n} as a selfie -> {want}", r.get("advice") == want, fmt_r(r))
            k = max(im.size) / 1000
            blurred = [q(im.filter(ImageFilter.GaussianBlur(rad * k)), "selfie") for rad in (2, 3, 5)]
            dark = [q(darken(im, f), "selfie") for f in (0.35, 0.25)]
            glared = q(add_glare(im), "selfie")
            if short >= 300:
                check(f"quality: fixture {n} blurred r 5 -> blurry", "blurry" in blurred[2].get("advice", []), fmt_r(blurred[2]))
                check(f"quality: fixture {n} darkened x0.25 -> too_dark", "too_dark" in dark[1].get("advice", []), fmt_r(dark[1]))
                check(f"quality: fixture {n} with glare -> glare", "glare" in glared.get("advice", []), fmt_r(glared))
            print(f"  {n:22s} {r.get('width')}x{r.get('height')}  blur {r.get('blur')} / "
                  + ", ".join(str(b.get("blur")) for b in blurred)
                  + f"  dark {r.get('dark')} / " + ", ".join(str(d_.get("dark")) for d_ in dark)
                  + f"  glare {r.get('glare')} / {glared.get('glare')}")
            if short >= 300:
                small = im.resize((max(1, im.width * 280 // short), max(1, im.height * 280 // short)), Image.LANCZOS)
                r = q(small, "selfie")
                check(f"quality: fixture {n} reduced to {small.width}x{small.height} -> too_small",
                      "too_small" in r.get("advice", []), fmt_r(r))

    # The measures themselves, on images whose exact values are known (1000 px long: no scaling).
    rng = np.random.default_rng(11)
    arr = rng.integers(0, 256, (600, 1000), dtype=np.uint8)
    a = arr.astype(np.float64)
    lap = a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - 4 * a[1:-1, 1:-1]
    r = q(Image.fromarray(arr).convert("RGB"), "document")
    check("quality: blur is the variance of the 4-neighbour Laplacian (against numpy)",
          r.get("ok") and abs(r["blur"] - lap.var()) < 0.1, f"{r.get('blur')} vs {lap.var():.1f}")
    im = Image.new("RGB", (1000, 600), (128, 128, 128))
    d = ImageDraw.Draw(im)
    d.rectangle([100, 100, 199, 199], fill=(255, 255, 255))  # 10 000 px = 1.67 %: counts
    for i in range(20):  # 20 specks of 100 px (0.017 % each): do not count
        d.rectangle([300 + 30 * i, 400, 309 + 30 * i, 409], fill=(250, 250, 250))
    d.rectangle([700, 100, 799, 199], fill=(255, 255, 200))  # large but blue < 245: not glare
    d.rectangle([0, 500, 999, 599], fill=(20, 20, 20))  # 100 000 px dark = 16.67 %
    r = q(im, "document")
    check("quality: glare counts only large all-channel-saturated regions; dark is luminance < 40",
          r.get("glare") == 0.0167 and r.get("dark") == 0.1667, fmt_r(r))
    r = q(Image.new("RGB", (4000, 2400), (128, 128, 128)), "document")
    check("quality: width and height are the input's", r.get("width") == 4000 and r.get("height") == 2400, fmt_r(r))

    # Errors and degenerate sizes (one-shot, for the exit status).
    png = b64(img_bytes(Image.new("RGB", (64, 64), (90, 90, 90))))
    for name, req, want_rc, want_err in (
        ("no kind", {"op": "quality", "image": png}, 1, "bad_request"),
        ("unknown kind", {"op": "quality", "image": png, "kind": "passport"}, 1, "bad_request"),
        ("no image", {"op": "quality", "kind": "selfie"}, 1, "bad_request"),
        ("bad base64", {"op": "quality", "image": "!!!", "kind": "selfie"}, 1, "bad_base64"),
        ("garbage image", {"op": "quality", "image": b64(b"not an image at all"), "kind": "selfie"}, 1, "unsupported_image_format"),
        ("truncated PNG", {"op": "quality", "image": b64(base64.b64decode(png)[:60]), "kind": "document"}, 1, "image_decode_failed"),
        ("empty image", {"op": "quality", "image": "", "kind": "document"}, 1, "empty_image"),
    ):
        rc, out, err = run_once(json.dumps(req).encode())
        try:
            resp = json.loads(out)
        except ValueError:
            resp = None
        check(f"quality: {name} -> {want_err}, exit {want_rc}", rc == want_rc and resp == {"error": want_err} and not err,
              f"exit {rc}, {out[:80]!r}")
    for w, h in ((1, 1), (2, 2), (7, 300), (1, 4000)):
        rc, out, err = run_once(json.dumps({"op": "quality", "kind": "document",
                                            "image": b64(img_bytes(Image.new("RGB", (w, h), (128, 128, 128))))}).encode())
        try:
            resp = json.loads(out)
        except ValueError:
            resp = None
        check(f"quality: {w}x{h} image answers ok", rc == 0 and isinstance(resp, dict) and resp.get("ok") is True
              and "too_small" in resp.get("advice", []) and not err, f"exit {rc}, {out[:120]!r}")


# ---------------------------------------------------------------- faces

def dist(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def find_jpeg2000(data: bytes):
    for magic in (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"):
        i = data.find(magic)
        if i >= 0:
            return data[i:]
    return None


def jp2_codestream(jp2: bytes):
    """The contiguous codestream box (jp2c) of a JP2 file, or None."""
    i = 0
    while i + 8 <= len(jp2):
        length, kind = struct.unpack(">I4s", jp2[i:i + 8])
        header = 8
        if length == 1:
            length = struct.unpack(">Q", jp2[i + 8:i + 16])[0]
            header = 16
        if kind == b"jp2c":
            end = len(jp2) if length == 0 else i + length
            return jp2[i + header:end]
        if length == 0:
            return None
        i += length
    return None


def check_faces(eng):
    faces_dir = os.path.join(FIXTURES, "faces")
    if not os.path.isdir(faces_dir):
        skip("faces", f"{faces_dir} is absent (fixtures live in ../shared beside the repository)")
        return
    names = sorted(n for n in os.listdir(faces_dir) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    singles = [n for n in names if "__" in n]
    descriptors = {}
    times = []
    for n in singles:
        with open(os.path.join(faces_dir, n), "rb") as f:
            data = f.read()
        t0 = time.perf_counter()
        r = eng.call({"op": "face", "image": b64(data), "upsample": 1})
        times.append(time.perf_counter() - t0)
        faces = r.get("faces", [])
        ok = r.get("ok") is True and len(faces) >= 1
        detail = f"{len(faces)} face(s), {r.get('width')}x{r.get('height')}" if ok else json.dumps(r)[:200]
        check(f"face found in {n}", ok, detail)
        if not ok:
            continue
        f0 = faces[0]
        shape_ok = (len(f0["descriptor"]) == 128 and len(f0["landmarks"]) == 68 and len(f0["box"]) == 4
                    and all(k in f0 for k in ("yaw", "pitch", "roll", "eye_aspect_ratio")))
        check(f"face record shape in {n}", shape_ok)
        areas = [(f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]) for f in faces]
        check(f"faces sorted by area in {n}", areas == sorted(areas, reverse=True))
        descriptors[n] = f0["descriptor"]
        print(f"  {n}: yaw {f0['yaw']:.1f} pitch {f0['pitch']:.1f} roll {f0['roll']:.1f} "
              f"EAR left {f0['eye_aspect_ratio']['left']:.3f} right {f0['eye_aspect_ratio']['right']:.3f}")
    if times:
        print(f"MEASURE face request (decode + detect + 68/5 landmarks + descriptor), upsample 1: "
              f"mean {sum(times) / len(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s over {len(times)} photos")

    # Time per descriptor: a tight face crop without upsampling, so detection is negligible.
    base = os.path.join(faces_dir, "obama__a.jpg")
    if os.path.exists(base) and "obama__a.jpg" in descriptors:
        im = Image.open(base).convert("RGB")
        r = eng.call({"op": "face", "image": b64(img_bytes(im)), "upsample": 0})
        if r.get("faces"):
            l, t, rr, b = r["faces"][0]["box"]
            m = (rr - l) // 2
            crop = img_bytes(im.crop((max(0, l - m), max(0, t - m), rr + m, b + m)).resize((300, 300)))
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                eng.call({"op": "face", "image": b64(crop), "upsample": 0})
                ts.append(time.perf_counter() - t0)
            print(f"MEASURE one face on a 300x300 crop (detect + landmarks + descriptor, no upsampling): "
                  f"median {sorted(ts)[2]:.3f} s")

    # Distance table and the threshold.
    keys = sorted(descriptors)
    if len(keys) >= 2:
        width = max(len(k) for k in keys)
        print("  distance table (dlib ResNet, Euclidean):")
        print("  " + " " * width + " " + " ".join(f"{k.split('.')[0][:10]:>10}" for k in keys))
        for a in keys:
            print("  " + f"{a:<{width}} " + " ".join(f"{dist(descriptors[a], descriptors[b]):10.3f}" for b in keys))
        genuine, impostor = [], []
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                d = dist(descriptors[a], descriptors[b])
                (genuine if a.split("__")[0] == b.split("__")[0] else impostor).append((d, a, b))
        fr = [g for g in genuine if g[0] >= THRESHOLD]
        fa = [m for m in impostor if m[0] < THRESHOLD]
        if genuine:
            print(f"MEASURE same-person distances {min(g[0] for g in genuine):.2f}-{max(g[0] for g in genuine):.2f} "
                  f"over {len(genuine)} pairs")
        if impostor:
            print(f"MEASURE different-person distances {min(m[0] for m in impostor):.2f}-"
                  f"{max(m[0] for m in impostor):.2f} over {len(impostor)} pairs")
        print(f"MEASURE threshold {THRESHOLD}: {len(fr)} false reject(s) of {len(genuine)}, "
              f"{len(fa)} false accept(s) of {len(impostor)}")
        check(f"no false reject at {THRESHOLD}", not fr, ", ".join(f"{a}~{b} {d:.3f}" for d, a, b in fr))
        check(f"no false accept at {THRESHOLD}", not fa, ", ".join(f"{a}~{b} {d:.3f}" for d, a, b in fa))

    multi = os.path.join(faces_dir, "multi_two_people.jpg")
    if os.path.exists(multi):
        with open(multi, "rb") as f:
            r = eng.call({"op": "face", "image": b64(f.read()), "upsample": 1})
        n = len(r.get("faces", []))
        check("multi_two_people.jpg gives 2 faces", n == 2, f"{n} face(s)")

    # Pose conventions on a rotated and a mirrored copy of one frontal photo.
    base = os.path.join(faces_dir, "obama__a.jpg")
    if os.path.exists(base):
        im = Image.open(base).convert("RGB")
        r0 = eng.call({"op": "face", "image": b64(img_bytes(im)), "upsample": 1})["faces"][0]
        rot = im.rotate(10, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))  # 10° counter-clockwise
        r1 = eng.call({"op": "face", "image": b64(img_bytes(rot)), "upsample": 1}).get("faces", [])
        ok = bool(r1) and abs((r1[0]["roll"] - r0["roll"]) + 10) < 3
        check("roll: a 10° counter-clockwise turn of the image lowers roll by about 10°", ok,
              f"{r0['roll']:.1f} -> {r1[0]['roll']:.1f}" if r1 else "no face")
        mir = im.transpose(Image.FLIP_LEFT_RIGHT)
        r2 = eng.call({"op": "face", "image": b64(img_bytes(mir)), "upsample": 1}).get("faces", [])
        ok = bool(r2) and abs(r2[0]["yaw"] + r0["yaw"]) < 3 and abs(r2[0]["roll"] + r0["roll"]) < 2
        check("yaw and roll change sign on a mirrored image", ok,
              f"yaw {r0['yaw']:.1f} -> {r2[0]['yaw']:.1f}, roll {r0['roll']:.1f} -> {r2[0]['roll']:.1f}" if r2 else "no face")
        if r2:
            e0, e2 = r0["eye_aspect_ratio"], r2[0]["eye_aspect_ratio"]
            ok = abs(e0["left"] - e2["right"]) < 0.03 and abs(e0["right"] - e2["left"]) < 0.03
            check("eye aspect ratios swap sides on a mirrored image", ok,
                  f"{e0['left']:.3f}/{e0['right']:.3f} -> {e2['left']:.3f}/{e2['right']:.3f}")
        d = dist(r0["descriptor"], r2[0]["descriptor"]) if r2 else 9
        check("a mirrored photo matches the original at 0.6", d < THRESHOLD, f"{d:.3f}")

    # EXIF orientation: a phone JPEG stores pixels sideways and says how to show them.
    if os.path.exists(base):
        im = Image.open(base).convert("RGB")
        upright = eng.call({"op": "face", "image": b64(img_bytes(im, "JPEG", quality=92)), "upsample": 1})
        for tag, stored in ((6, im.transpose(Image.ROTATE_90)), (8, im.transpose(Image.ROTATE_270)),
                            (3, im.transpose(Image.ROTATE_180))):
            exif = Image.Exif()
            exif[0x0112] = tag
            r = eng.call({"op": "face", "image": b64(img_bytes(stored, "JPEG", quality=92, exif=exif)), "upsample": 1})
            f = r.get("faces", [])
            ok = (r.get("width"), r.get("height")) == (im.width, im.height) and len(f) == 1 \
                and abs(f[0]["roll"] - upright["faces"][0]["roll"]) < 2 \
                and all(abs(a - b) <= 3 for a, b in zip(f[0]["box"], upright["faces"][0]["box"]))
            check(f"EXIF orientation {tag} is applied before detection", ok,
                  f"{r.get('width')}x{r.get('height')}, box {f[0]['box'] if f else None}")

    # The BSI 2008 test passport's DG2: a JPEG 2000 portrait inside CBEFF.
    dg2_path = os.path.join(FIXTURES, "passports", "bsi2008", "Datagroup2.bin")
    if not os.path.exists(dg2_path):
        skip("DG2", f"{dg2_path} is absent")
        return
    with open(dg2_path, "rb") as f:
        dg2 = f.read()
    jp2 = find_jpeg2000(dg2)
    check("DG2 holds a JPEG 2000 image", jp2 is not None)
    if jp2 is None:
        return
    t0 = time.perf_counter()
    r = eng.call({"op": "face", "image": b64(jp2), "upsample": 1})
    elapsed = time.perf_counter() - t0
    faces = r.get("faces", [])
    check("DG2 JPEG 2000 (JP2 boxes) decodes and gives one face", r.get("ok") is True and len(faces) == 1,
          f"{r.get('width')}x{r.get('height')}, {len(faces)} face(s), {elapsed:.2f} s" if r.get("ok") else json.dumps(r))
    cs = jp2_codestream(jp2) if jp2.startswith(b"\x00\x00\x00\x0c") else jp2
    if cs is not None and cs.startswith(b"\xff\x4f\xff\x51"):
        r2 = eng.call({"op": "face", "image": b64(cs), "upsample": 1})
        faces2 = r2.get("faces", [])
        same = bool(faces) and len(faces2) == 1 and faces2[0]["box"] == faces[0]["box"]
        check("DG2 raw J2K codestream decodes to the same face", same,
              f"{len(faces2)} face(s)" if r2.get("ok") else json.dumps(r2))
    else:
        skip("DG2 raw J2K codestream", "no jp2c box found")


# ---------------------------------------------------------------- pdf417

def aamva_payload(i):
    rnd = random.Random(1000 + i)
    first = rnd.choice(["JOHN", "MARIA", "WEI", "AMARA", "OLAF", "PRIYA"])
    last = rnd.choice(["DOE", "GARCIA", "CHEN", "OKAFOR", "LARSEN", "SHARMA"])
    dob = f"{rnd.randint(1,12):02d}{rnd.randint(1,28):02d}{rnd.randint(1950,2004)}"
    exp = f"{rnd.randint(1,12):02d}{rnd.randint(1,28):02d}{rnd.randint(2026,2031)}"
    number = "D" + "".join(rnd.choice("0123456789") for _ in range(7))
    body = (f"DAQ{number}\nDCS{last}\nDAC{first}\nDADNONE\nDBD01152024\nDBB{dob}\nDBA{exp}\n"
            f"DBC{rnd.randint(1,2)}\nDAYBRO\nDAU069 IN\nDAG{rnd.randint(10,9999)} MAIN ST\n"
            f"DAIANYTOWN\nDAJCA\nDAK{rnd.randint(10000,99999)}0000  \nDCF{rnd.randint(10**9,10**10-1)}\n"
            f"DCGUSA\nDDEN\nDDFN\nDDGN\r")
    return "@\n\x1e\rANSI 636014090002DL00410278ZC03190024DL" + body


def render_pdf417(text, angle, seed):
    from pdf417gen import encode, render_image
    codes = encode(text, columns=12, security_level=4)
    im = render_image(codes, scale=2, ratio=3, padding=30).convert("L")
    if angle:
        im = im.rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=255)
    im = im.filter(ImageFilter.GaussianBlur(0.7))
    rng = np.random.default_rng(seed)
    arr = np.asarray(im, dtype=np.float32) + rng.normal(0, 8, (im.height, im.width))
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img_bytes(im, "JPEG", quality=85)


def check_pdf417(eng):
    try:
        import pdf417gen  # noqa: F401
    except ImportError:
        check("pdf417gen is installed (scripts/install-idv-engines.sh)", False)
        return
    payloads = [aamva_payload(i) for i in range(6)]
    angles = [0, 2, 5, 10, 15]
    results = {}
    wrong_text = 0
    times = []
    for angle in angles:
        for mode in (False, True):
            ok = 0
            total = 0
            for i, text in enumerate(payloads):
                for sign in (1, -1):
                    if angle == 0 and sign == -1:
                        continue
                    data = render_pdf417(text, sign * angle, seed=i * 100 + angle)
                    t0 = time.perf_counter()
                    r = eng.call({"op": "pdf417", "image": b64(data), "deskew": mode})
                    times.append((mode, time.perf_counter() - t0))
                    total += 1
                    if r.get("found"):
                        if r.get("text") == text:
                            ok += 1
                        else:
                            wrong_text += 1
            results[(angle, mode)] = (ok, total)
    print("MEASURE PDF417 decode success by tilt (AAMVA-like payloads, blur 0.7 px, noise sigma 8, JPEG 85; "
          "both tilt directions):")
    print("  tilt   without deskew   with deskew")
    for angle in angles:
        a = results[(angle, False)]
        b = results[(angle, True)]
        print(f"  {angle:>3}°   {a[0]:>3}/{a[1]:<3} {100 * a[0] / a[1]:5.0f} %   {b[0]:>3}/{b[1]:<3} {100 * b[0] / b[1]:5.0f} %")
    t_desk = [t for m, t in times if m]
    print(f"MEASURE PDF417 request time with deskew: mean {sum(t_desk) / len(t_desk):.2f} s, max {max(t_desk):.2f} s")
    check("PDF417 never returns a wrong text", wrong_text == 0, f"{wrong_text} mismatched read(s)")
    check("PDF417 untilted reads without deskew", results[(0, False)][0] == results[(0, False)][1])
    for angle in angles:
        ok, total = results[(angle, True)]
        check(f"PDF417 tilted {angle}° reads exactly with deskew", ok == total, f"{ok}/{total}")
    # The reported rotation undoes the tilt: an image turned +10° is read after turning it by about -10°.
    r = eng.call({"op": "pdf417", "image": b64(render_pdf417(payloads[0], 10, seed=7))})
    rot = r.get("rotation")
    check("PDF417 reports the rotation that worked", r.get("found") and rot is not None and abs(rot + 10) <= 4,
          f"rotation {rot}")
    r = eng.call({"op": "pdf417", "image": b64(render_pdf417(payloads[1], 180, seed=8))})
    check("PDF417 upside down reads", r.get("found") is True and r.get("text") == payloads[1], f"rotation {r.get('rotation')}")
    blank = img_bytes(Image.new("L", (600, 300), 255))
    r = eng.call({"op": "pdf417", "image": b64(blank)})
    rng = np.random.default_rng(3)
    clutter = img_bytes(Image.fromarray(rng.integers(0, 256, (1300, 2000), dtype=np.uint8)).filter(ImageFilter.GaussianBlur(2)),
                        "JPEG", quality=85)
    t0 = time.perf_counter()
    r2 = eng.call({"op": "pdf417", "image": b64(clutter)})
    print(f"MEASURE PDF417 on a 2000x1300 image without a barcode (all 41 angles tried): "
          f"{time.perf_counter() - t0:.2f} s, found={r2.get('found')}")
    check("PDF417 blank image answers found:false", r == {"ok": True, "found": False}, json.dumps(r))


# ---------------------------------------------------------------- mrz

def check_digit(s):
    weights = (7, 3, 1)
    total = 0
    for i, c in enumerate(s):
        if c.isdigit():
            v = int(c)
        elif c.isalpha():
            v = ord(c) - 55
        else:
            v = 0
        total += v * weights[i % 3]
    return str(total % 10)


def td3(surname, given, number, nat, dob, sex, exp, personal):
    l1 = f"P<{nat}{surname}<<{given.replace(' ', '<')}".ljust(44, "<")[:44]
    num = number.ljust(9, "<")
    pers = personal.ljust(14, "<")
    l2 = num + check_digit(num) + nat + dob + check_digit(dob) + sex + exp + check_digit(exp) + pers + check_digit(pers)
    composite = num + check_digit(num) + dob + check_digit(dob) + exp + check_digit(exp) + pers + check_digit(pers)
    l2 += check_digit(composite)
    return [l1, l2]


def td1(surname, given, number, nat, dob, sex, exp):
    num = number.ljust(9, "<")
    l1 = ("I<" + nat + num + check_digit(num)).ljust(30, "<")
    l2 = dob + check_digit(dob) + sex + exp + check_digit(exp) + nat
    l2 = l2.ljust(29, "<")
    composite = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
    l2 += check_digit(composite)
    l3 = f"{surname}<<{given.replace(' ', '<')}".ljust(30, "<")[:30]
    return [l1, l2, l3]


def ocrb_font_path():
    try:
        out = subprocess.run(["fc-list", ":family=OCR B:style=Regular", "file"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            path = line.split(":")[0].strip()
            if path.endswith("OCRB.otf") or path.endswith("OCRB.ttf"):
                return path
    except FileNotFoundError:
        pass
    for p in ("/usr/share/fonts/opentype/ocr-b/OCRB.otf",):
        if os.path.exists(p):
            return p
    return None


def render_mrz_band(lines, font, size=30):
    f = ImageFont.truetype(font, size)
    w = int(max(f.getlength(l) for l in lines)) + 2 * size
    lh = int(size * 1.55)
    im = Image.new("L", (w, lh * len(lines) + size), 255)
    d = ImageDraw.Draw(im)
    for i, l in enumerate(lines):
        d.text((size, size // 2 + i * lh), l, font=f, fill=0)
    return im


def render_page(lines, font, td1_layout):
    """An ID page: a photo box and printed fields above, the MRZ as the bottom part."""
    band = render_mrz_band(lines, font, 30)
    w = band.width
    h = int(w / (1.42 if not td1_layout else 1.58)) + band.height
    page = Image.new("L", (w, h), 238)
    d = ImageDraw.Draw(page)
    d.rectangle([30, 30, 30 + int(w * 0.26), 30 + int(h * 0.5)], fill=140)  # the portrait
    label = ImageFont.truetype(font, 22)
    x = 60 + int(w * 0.26)
    for i, txt in enumerate(["PASSPORT  REISEPASS", "Surname / Name", "MUSTERMANN",
                             "Given names / Vornamen", "ERIKA", "Date of birth  12 08 1964",
                             "Date of expiry  31 10 2027"]):
        d.text((x, 30 + i * 40), txt, font=label, fill=60)
    page.paste(band.point(lambda v: int(v * (238 / 255))), (0, h - band.height))
    return page


def degrade(im, kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "clean":
        return img_bytes(im)
    if kind == "blur":
        return img_bytes(im.filter(ImageFilter.GaussianBlur(1.2)))
    if kind == "noise":
        arr = np.asarray(im, dtype=np.float32) + rng.normal(0, 20, (im.height, im.width))
        return img_bytes(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))
    if kind == "jpeg30":
        return img_bytes(im.convert("RGB"), "JPEG", quality=30)
    if kind == "tilt1.5":
        return img_bytes(im.rotate(1.5, resample=Image.BILINEAR, expand=True, fillcolor=255))
    if kind == "tilt-2":
        return img_bytes(im.rotate(-2, resample=Image.BILINEAR, expand=True, fillcolor=255))
    if kind == "all":
        x = im.rotate(1, resample=Image.BILINEAR, expand=True, fillcolor=255).filter(ImageFilter.GaussianBlur(0.8))
        arr = np.asarray(x, dtype=np.float32) + rng.normal(0, 12, (x.height, x.width))
        x = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        return img_bytes(x.convert("RGB"), "JPEG", quality=30)
    raise ValueError(kind)


# Field-aware repair, as the Swift side does it: ICAO 9303 fields are alphabetic, numeric or
# alphanumeric; look-alikes are mapped by field type, and an alphanumeric field with a check digit
# tries the look-alike swaps until its check digit agrees.
TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8", "G": "6"}
TO_ALPHA = {v: k for k, v in TO_DIGIT.items() if k not in ("Q", "D", "L")}
# (line index, start, end, kind, check digit position or None); kind: a alpha, n numeric, x alnum
TD3_FIELDS = [(0, 0, 44, "a", None), (1, 0, 9, "x", 9), (1, 9, 10, "n", None), (1, 10, 13, "a", None),
              (1, 13, 20, "n", None), (1, 20, 21, "a", None), (1, 21, 28, "n", None), (1, 28, 42, "x", 42),
              (1, 42, 44, "n", None)]
TD1_FIELDS = [(0, 0, 5, "a", None), (0, 5, 14, "x", 14), (0, 14, 15, "n", None), (0, 15, 30, "x", None),
              (1, 0, 7, "n", None), (1, 7, 8, "a", None), (1, 8, 15, "n", None), (1, 15, 18, "a", None),
              (1, 18, 29, "x", None), (1, 29, 30, "n", None), (2, 0, 30, "a", None)]


def field_aware(lines):
    if len(lines) == 2 and all(len(l) == 44 for l in lines):
        fields = TD3_FIELDS
    elif len(lines) == 3 and all(len(l) == 30 for l in lines):
        fields = TD1_FIELDS
    else:
        return lines
    out = [list(l) for l in lines]
    for li, a, b, kind, _ in fields:
        for i in range(a, b):
            c = out[li][i]
            if kind == "n":
                out[li][i] = TO_DIGIT.get(c, c)
            elif kind == "a":
                out[li][i] = TO_ALPHA.get(c, c)
    for li, a, b, kind, cd in fields:
        if kind != "x" or cd is None:
            continue
        value = "".join(out[li][a:b])
        if check_digit(value) == out[li][cd]:
            continue
        ambiguous = [i for i, c in enumerate(value) if c in TO_DIGIT or c in TO_ALPHA]
        for mask in range(1, 1 << min(len(ambiguous), 6)):
            cand = list(value)
            for k, i in enumerate(ambiguous[:6]):
                if mask >> k & 1:
                    c = cand[i]
                    cand[i] = TO_DIGIT.get(c) or TO_ALPHA.get(c) or c
            if check_digit("".join(cand)) == out[li][cd]:
                out[li][a:b] = cand
                break
    return ["".join(l) for l in out]


def levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def score(expected, got):
    """(correct characters, total characters, exact lines) matching lines in order."""
    chars = 0
    exact = 0
    total = sum(len(l) for l in expected)
    for i, e in enumerate(expected):
        best = 0
        for g in got:
            best = max(best, len(e) - min(len(e), levenshtein(e, g)))
        if i < len(got) and got[i] == e:
            exact += 1
        chars += best
    return chars, total, exact


def check_mrz(eng):
    font = ocrb_font_path()
    if font is None:
        check("OCR-B font is installed (fonts-ocr-b)", False)
        return
    docs = [
        ("TD3", td3("MUSTERMANN", "ERIKA", "C01X00T47", "D<<", "640812", "F", "271031", "")),
        ("TD3", td3("ERIKSSON", "ANNA MARIA", "L898902C3", "UTO", "740812", "F", "320415", "ZE184226B")),
        ("TD3", td3("OKAFOR", "CHIDINMA", "A12345678", "NGA", "910203", "M", "290101", "")),
        ("TD1", td1("SMITH", "JOHN PAUL", "D23145890", "UTO", "880704", "M", "310502")),
        ("TD1", td1("DUPONT", "MARIE", "X4RTBPFW4", "FRA", "950228", "F", "280930")),
        ("TD1", td1("NGUYEN", "VAN AN", "AB1234567", "VNM", "000101", "M", "301231")),
    ]
    kinds = ["clean", "blur", "noise", "jpeg30", "tilt1.5", "tilt-2", "all"]
    stats = {}
    clean_fail = []
    times = []
    for layout in ("band", "page"):
        for kind in kinds:
            if layout == "page" and kind not in ("clean", "tilt1.5", "jpeg30"):
                continue
            acc = {"raw": [0, 0, 0, 0], "field": [0, 0, 0, 0]}
            for j, (doc_type, lines) in enumerate(docs):
                im = render_mrz_band(lines, font) if layout == "band" else render_page(lines, font, doc_type == "TD1")
                data = degrade(im, kind, seed=j)
                t0 = time.perf_counter()
                r = eng.call({"op": "mrz", "image": b64(data)})
                times.append(time.perf_counter() - t0)
                got = r.get("lines", [])
                for mode, g in (("raw", got), ("field", field_aware(got))):
                    c, t, e = score(lines, g)
                    a = acc[mode]
                    a[0] += c
                    a[1] += t
                    a[2] += e
                    a[3] += len(lines)
                if kind == "clean" and field_aware(got) != lines:
                    c, t, _ = score(lines, field_aware(got))
                    clean_fail.append(f"{layout} {doc_type} #{j}: {len(got)} line(s), {t - c} char error(s) "
                                      f"after field-aware repair")
            stats[(layout, kind)] = acc
    print("MEASURE MRZ OCR accuracy (OCR-B rendered; tesseract eng LSTM, MRZ whitelist), 3 TD3 + 3 TD1 zones;")
    print("  raw = the engine's lines; field-aware = after the look-alike repair by field type and check digit")
    print("  input            raw per-char  raw lines     field-aware per-char  lines")
    for (layout, kind), acc in stats.items():
        rc_, rt, re_, rl = acc["raw"]
        fc, ft, fe, fl = acc["field"]
        print(f"  {layout:<5} {kind:<10} {100 * rc_ / rt:8.1f} %   {re_:>3}/{rl:<3}      {100 * fc / ft:8.1f} %   "
              f"{fe:>3}/{fl:<3}")
    print(f"MEASURE MRZ request time: mean {sum(times) / len(times):.2f} s, max {max(times):.2f} s")
    check("MRZ clean renders (band and page) read exactly after field-aware repair", not clean_fail,
          "; ".join(clean_fail))
    rc_, rt, _, _ = stats[("band", "clean")]["raw"]
    check("MRZ clean renders: at least 99 % of characters raw", rc_ / rt >= 0.99, f"{100 * rc_ / rt:.1f} %")
    c, t, _, _ = stats[("band", "all")]["raw"]
    check("MRZ degraded (tilt + blur + noise + JPEG 30) reads at least 95 % of characters raw", c / t >= 0.95,
          f"{100 * c / t:.1f} %")
    blank = img_bytes(Image.new("L", (900, 120), 255))
    r = eng.call({"op": "mrz", "image": b64(blank)})
    check("MRZ blank image answers no lines", r.get("ok") is True and r.get("lines") == [], json.dumps(r))


# ---------------------------------------------------------------- robustness

def png_with_size(w, h):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def jpeg_with_size(w, h):
    data = bytearray(img_bytes(Image.new("RGB", (16, 16), (120, 80, 40)), "JPEG"))
    i = data.find(b"\xff\xc0")
    data[i + 5:i + 9] = struct.pack(">HH", h, w)
    return bytes(data)


def j2k_with_size(cs, w, h):
    data = bytearray(cs)
    # SOC FF4F, then SIZ: FF51, Lsiz(2), Rsiz(2), Xsiz(4), Ysiz(4)
    data[8:16] = struct.pack(">II", w, h)
    return bytes(data)


# ---------------------------------------------------------------- text

def check_text(eng, caps):
    if "text" not in caps:
        skip("text", "the engine's capabilities have no `text` (an engine built before the op)")
        return
    check("capabilities: text available", caps.get("text") is True, json.dumps(caps))
    if caps.get("text") is not True:
        return
    import idv_cards as C

    faces = sorted(os.path.join(FIXTURES, "faces", n) for n in os.listdir(os.path.join(FIXTURES, "faces"))
                   if n.endswith((".jpg", ".png")) and not n.startswith("multi")) if os.path.isdir(os.path.join(FIXTURES, "faces")) else []
    if not faces:
        skip("text: fixture faces as card photos", f"{FIXTURES}/faces absent: a drawn portrait instead")

    def read(data):
        t0 = time.perf_counter()
        r = eng.call({"op": "text", "image": b64(data)})
        return r, time.perf_counter() - t0

    # Variants: (name, function card image -> bytes). The phone captures put the card on a table
    # (5 % margin), turn it, blur it, add noise and an uneven light, and save a JPEG.
    variants = [
        ("clean PNG", lambda im, i: C.encode(im)),
        ("phone: 1-2° turn, blur 0.8, noise 3, JPEG 75",
         lambda im, i: C.phone_photo(im, angle=(1 + (i % 3) * 0.5) * (1 if i % 2 else -1), blur=0.8, noise=3, quality=75, seed=i)),
        ("phone, small: 2° turn, 70 % size, blur 1.2, noise 4, JPEG 60",
         lambda im, i: C.phone_photo(im, angle=2 * (1 if i % 2 else -1), blur=1.2, noise=4, quality=60, scale=0.7, seed=i)),
    ]
    fields = ["number", "family_name", "given_name", "birth"]
    n_cards = 20
    stats = {name: {f: 0 for f in fields + ["all", "number_folded", "all_folded"]} for name, _ in variants}
    misses = {name: [] for name, _ in variants}
    times = []
    shape_ok = True
    for i in range(n_cards):
        lic = C.sample_licence(i)
        front = C.render_front(lic, faces[i % len(faces)] if faces else None, seed=i,
                               layout="numbered" if i % 2 else "labels")
        for name, make in variants:
            r, dt = read(make(front, i))
            times.append(dt)
            lines = r.get("lines")
            if not (r.get("ok") is True and isinstance(lines, list) and all(isinstance(x, str) for x in lines)
                    and list(r) == ["ok", "lines"]):
                shape_ok = False
                lines = []
            got = C.found_fields(lic, lines)
            for f in fields:
                stats[name][f] += got[f]
            stats[name]["all"] += all(got[f] for f in fields)
            stats[name]["number_folded"] += got["number_folded"]
            stats[name]["all_folded"] += got["number_folded"] and all(got[f] for f in fields[1:])
            if not all(got[f] for f in fields):
                misses[name].append(f"card {i} ({lic.jurisdiction}) missed {[f for f in fields if not got[f]]}")
    check("text: answers {ok, lines: [strings]}", shape_ok)
    print(f"MEASURE text: fields found on {n_cards} synthetic licence fronts (1012x638; labels or AAMVA-numbered layout; "
          "normalised: upper case, letters and digits; DOB as MMDDYYYY or YYYYMMDD):")
    print("  variant" + " " * 56 + "  number  family  given   DOB     all four   number, all four (look-alikes folded)")
    for name, _ in variants:
        st = stats[name]
        print(f"  {name:<62} " + "  ".join(f"{st[f]:>2}/{n_cards}" for f in fields) + f"   {st['all']:>2}/{n_cards}"
              + f"      {st['number_folded']:>2}/{n_cards}, {st['all_folded']:>2}/{n_cards}")
        for m in misses[name][:6]:
            print(f"      {m}")
    print(f"MEASURE text request time: mean {sum(times) / len(times):.2f} s, max {max(times):.2f} s")
    clean = stats[variants[0][0]]
    check("text: every clean front shows its number, family name, given name and DOB", clean["all"] == n_cards,
          "; ".join(misses[variants[0][0]]))

    # A front printed with another family name shows that name, not the barcode's.
    lic = C.sample_licence(3)
    other = "ZIMMERMANN" if lic.family_name != "ZIMMERMANN" else "ABERCROMBIE"
    r, _ = read(C.encode(C.render_front(lic, faces[0] if faces else None, printed={"family_name": other}, seed=3)))
    got = {C.norm(l) for l in r.get("lines") or []}
    check("text: a front printed with another family name shows that name and not the barcode's",
          any(other in l for l in got) and not any(C.norm(lic.family_name) in l for l in got), f"{r.get('lines')}")
    # A card with only its photo: none of the fields.
    r, _ = read(C.phone_photo(C.render_front(lic, faces[0] if faces else None, blank=True, seed=3), quality=80, seed=3))
    got = C.found_fields(lic, r.get("lines") or [])
    check("text: a card with only its photo shows none of the fields (ok, lines)", r.get("ok") is True and not any(got[f] for f in fields),
          f"{r.get('lines')}")
    # Degenerate and malformed requests.
    for w, h in ((1, 1), (7, 300), (1, 4000), (12, 12)):
        r, _ = read(img_bytes(Image.new("L", (w, h), 255)))
        check(f"text: a {w}x{h} image answers ok with no lines", r == {"ok": True, "lines": []}, json.dumps(r)[:200])
    for label, req, code in (("missing image", {"op": "text"}, "bad_request"), ("bad base64", {"op": "text", "image": "!!"}, "bad_base64"),
                             ("garbage", {"op": "text", "image": b64(b"not an image at all")}, "unsupported_image_format")):
        rc, out, err = run_once(json.dumps(req).encode())
        check(f"text: {label} -> {code}, exit 1", rc == 1 and json.loads(out) == {"error": code} and not err, f"exit {rc} {out[:100]!r}")
    # Without tesseract's data: engine_unavailable (exit 3), and capabilities say text false.
    empty = os.path.join("/tmp", f"idv-no-tessdata-{os.getpid()}")
    os.makedirs(empty, exist_ok=True)
    env = {**os.environ, "TESSDATA_PREFIX": empty}
    p = subprocess.run([ENGINE], input=json.dumps({"op": "text", "image": b64(C.encode(front))}).encode(), capture_output=True,
                       timeout=120, env=env)
    c = subprocess.run([ENGINE], input=b'{"op":"capabilities"}', capture_output=True, timeout=120, env=env)
    os.rmdir(empty)
    check("text: without tesseract's English data -> engine_unavailable, exit 3; capabilities text false",
          p.returncode == 3 and json.loads(p.stdout) == {"error": "engine_unavailable"} and json.loads(c.stdout).get("text") is False,
          f"exit {p.returncode} {p.stdout[:100]!r} / {c.stdout[:200]!r}")


def check_robustness():
    jpeg_path = os.path.join(FIXTURES, "faces", "obama__b.jpg")
    if os.path.exists(jpeg_path):
        with open(jpeg_path, "rb") as f:
            real_jpeg = f.read()
    else:
        real_jpeg = img_bytes(Image.new("RGB", (400, 300), (200, 30, 30)), "JPEG")
    real_png = img_bytes(Image.new("RGB", (400, 300), (10, 200, 30)))
    dg2_path = os.path.join(FIXTURES, "passports", "bsi2008", "Datagroup2.bin")
    jp2 = None
    if os.path.exists(dg2_path):
        with open(dg2_path, "rb") as f:
            jp2 = find_jpeg2000(f.read())
    rnd = random.Random(5)
    garbage = bytes(rnd.randrange(256) for _ in range(5000))
    cases = [
        ("garbage bytes", {"op": "face", "image": b64(garbage)}, 1, "unsupported_image_format"),
        ("garbage after a JPEG signature", {"op": "face", "image": b64(b"\xff\xd8\xff" + garbage)}, 1, "image_decode_failed"),
        ("truncated JPEG", {"op": "face", "image": b64(real_jpeg[: len(real_jpeg) // 2])}, 1, "image_decode_failed"),
        ("truncated PNG", {"op": "mrz", "image": b64(real_png[: len(real_png) // 2])}, 1, "image_decode_failed"),
        ("zero-length image", {"op": "pdf417", "image": ""}, 1, "empty_image"),
        ("PNG header 9000x9000", {"op": "face", "image": b64(png_with_size(9000, 9000))}, 1, "image_too_large"),
        ("PNG header 100000x10", {"op": "face", "image": b64(png_with_size(100000, 10))}, 1, "image_too_large"),
        ("JPEG header 9000x9000", {"op": "face", "image": b64(jpeg_with_size(9000, 9000))}, 1, "image_too_large"),
        ("JPEG header 65535x65535", {"op": "pdf417", "image": b64(jpeg_with_size(65535, 65535))}, 1, "image_too_large"),
        ("bad base64", {"op": "face", "image": "!!!!"}, 1, "bad_base64"),
        ("missing image", {"op": "face"}, 1, "bad_request"),
        ("image not a string", {"op": "mrz", "image": 12}, 1, "bad_request"),
        ("unknown op", {"op": "teleport"}, 2, "unknown_op"),
        ("op missing", {"image": ""}, 1, "bad_request"),
    ]
    if jp2 is not None:
        cs = jp2_codestream(jp2)
        cases.append(("truncated JPEG 2000", {"op": "face", "image": b64(jp2[: len(jp2) // 3])}, 1, "image_decode_failed"))
        if cs is not None:
            cases.append(("J2K header 9000x9000", {"op": "face", "image": b64(j2k_with_size(cs, 9000, 9000))}, 1,
                          "image_too_large"))
    raw_cases = [
        ("malformed JSON", b'{"op": "face", "image": ', 1, "bad_request"),
        ("JSON array request", b"[1,2,3]", 1, "bad_request"),
        ("empty request", b"", 1, "bad_request"),
        ("deeply nested JSON", b"[" * 100000, 1, "bad_request"),
        ("request over 20 MB of image", b'{"op":"face","image":"' + b"A" * (28 * 1024 * 1024) + b'"}', 1, "image_too_large"),
    ]
    for name, req, want_rc, want_err in cases:
        raw_cases.append((name, json.dumps(req).encode(), want_rc, want_err))
    for name, payload, want_rc, want_err in raw_cases:
        rc, out, err = run_once(payload)
        try:
            resp = json.loads(out)
        except ValueError:
            resp = None
        ok = (rc == want_rc and isinstance(resp, dict) and "error" in resp
              and (want_err is None or resp["error"] == want_err) and not err)
        check(f"robust: {name}", ok, f"exit {rc}, {out[:80]!r}" + (f", stderr {len(err)} bytes" if err else ""))

    # Degenerate sizes: a valid answer (no face, nothing found), never a crash.
    for w, h in ((1, 1), (2, 2), (7, 300), (300, 7), (1, 4000), (45, 45), (79, 79)):
        data = img_bytes(Image.new("RGB", (w, h), (128, 128, 128)))
        for op in ("face", "pdf417", "mrz"):
            rc, out, err = run_once(json.dumps({"op": op, "image": b64(data)}).encode())
            try:
                resp = json.loads(out)
            except ValueError:
                resp = None
            ok = rc == 0 and isinstance(resp, dict) and resp.get("ok") is True and not err
            if not ok or op == "mrz":
                check(f"robust: {w}x{h} image, ops face/pdf417/mrz" if ok else f"robust: {w}x{h} image, op {op}", ok,
                      f"exit {rc}, {out[:80]!r}")
                if not ok:
                    break

    # Serve mode: errors do not end the process; one answer per request line.
    eng = subprocess.Popen([ENGINE, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reqs = [b"not json", json.dumps({"op": "capabilities"}).encode(), json.dumps({"op": "face", "image": b64(garbage)}).encode(),
            b"", json.dumps({"op": "nope"}).encode(), json.dumps({"op": "pdf417", "image": b64(real_png)}).encode()]
    out, err = eng.communicate(b"\n".join(reqs) + b"\n", timeout=120)
    answers = [json.loads(l) for l in out.splitlines()]
    want = [{"error": "bad_request"}, None, {"error": "unsupported_image_format"}, {"error": "unknown_op"},
            {"ok": True, "found": False}]
    ok = len(answers) == len(want) and all(w is None or a == w for a, w in zip(answers, want)) \
        and answers[1].get("ok") is True and eng.returncode == 0 and not err
    check("robust: --serve answers each line and survives errors", ok, f"{len(answers)} answers, exit {eng.returncode}")


# ---------------------------------------------------------------- liveness

def check_liveness():
    """interop/idv_liveness_frames.py's self-test with this script's PASS/FAIL/SKIP lines."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import idv_liveness_frames
    idv_liveness_frames.self_test(check, skip, engine=ENGINE, fixtures=os.path.join(FIXTURES, "faces"), log=print)


def main():
    print(f"engine: {ENGINE}")
    if not os.access(ENGINE, os.X_OK):
        check("engine is installed (sudo scripts/install-idv-engines.sh)", False, ENGINE)
        print(f"{passed} passed, {failed} failed")
        return 1
    rc, out, err = run_once(b'{"op":"capabilities"}')
    caps = json.loads(out) if rc == 0 else {}
    check("capabilities: face, pdf417 and mrz available", rc == 0 and caps.get("face") and caps.get("pdf417")
          and caps.get("mrz"), out.decode(errors="replace").strip())
    eng = Engine()
    sections = [a for a in sys.argv[1:]] or ["faces", "pdf417", "mrz", "quality", "text", "liveness", "robust"]
    if "faces" in sections:
        check_faces(eng)
    if "pdf417" in sections:
        check_pdf417(eng)
    if "mrz" in sections:
        check_mrz(eng)
    if "quality" in sections:
        check_quality(eng)
    if "text" in sections:
        check_text(eng, caps)
    if "liveness" in sections:
        check_liveness()
    rc, err = eng.close()
    check("serve process exits 0 and writes nothing to stderr", rc == 0 and not err,
          f"exit {rc}, stderr {len(err)} bytes")
    if "robust" in sections:
        check_robustness()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
