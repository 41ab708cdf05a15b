#!/usr/bin/env python3
"""Synthetic US (and Canadian) driving licences for the IDV tests: the printed FRONT and the BACK with
its AAMVA PDF417 barcode, from one record, with ways to make the front disagree with the barcode and
to degrade the front as a phone photo would.

    lic = idv_cards.sample_licence(3)                         # or Licence(family_name=..., ...)
    front = idv_cards.render_front(lic, face="…/obama__a.jpg")  # PIL image, 1012 x 638 (ID-1)
    back = idv_cards.render_back(lic)                          # PIL image with the PDF417
    text = idv_cards.aamva_text(lic)                           # what a PDF417 reader returns
    jpeg = idv_cards.phone_photo(front, angle=1.5, blur=0.8, quality=70, seed=1)  # bytes

Disagreement: `render_front(lic, face, printed=dict(family_name="OTHER"))` prints other values than
the barcode carries (keys: any Licence field: family_name, given_name, birth, number, …).
`render_front(lic, face, blank=True)`: a card with only the photo (no text at all).

The barcode follows the AAMVA DL/ID Card Design Standard (2020, version 10 header): `@` LF RS CR,
`ANSI `, the issuer identification number (IIN), version, jurisdiction version, the number of
subfiles, one designator (`DL`, offset, length, computed), the DL subfile `DL` + elements separated
by LF and ended by CR. Dates are MMDDCCYY for US cards and CCYYMMDD for Canadian ones (DCG CAN), as
Sources/SigilIDV/AAMVA.swift reads them. Elements written: DCA DCB DCD DBA DCS DAC DAD DBD DBB DBC
DAY DAU DAG DAI DAJ DAK DAQ DCF DCG DDE DDF DDG (DAQ and DBB are the ones AAMVA.swift requires). The barcode
is printed on the card's off-white stock (pure white would be glare to the engine's quality op).

Checked with sigil-idv-engine: the back reads back exactly (pdf417 op), as a PNG and as a phone photo; the
quality op gives no advice on either side; the face op finds the photo on the front (obama__a on the card
against the selfie obama__b: distance 0.355, the same with a blank front).

The face photo is read from wherever it is (tests pass ../shared/fixtures/faces/*.jpg in place;
never copy fixtures into git). Fonts: DejaVu (Debian fonts-dejavu-core).

    /opt/peers-venv/bin/python interop/idv_cards.py --self-test
    /opt/peers-venv/bin/python interop/idv_cards.py --out DIR [--face F] [--seed N] [--family-on-front X]
        [--birth-on-front YYYY-MM-DD] [--number-on-front X] [--blank-front] [--phone]
"""
import argparse
import dataclasses
import datetime
import io
import os
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CARD_SIZE = (1012, 638)  # ID-1 (85.60 x 53.98 mm) at about 300 dpi
FONT_DIR = "/usr/share/fonts/truetype/dejavu"

# Issuer identification numbers (AAMVA) and the two-letter codes of a few jurisdictions.
JURISDICTIONS = {
    "CA": ("636014", "CALIFORNIA", "USA"),
    "NY": ("636001", "NEW YORK STATE", "USA"),
    "TX": ("636015", "TEXAS", "USA"),
    "WA": ("636045", "WASHINGTON", "USA"),
    "ON": ("636012", "ONTARIO", "CAN"),
}


@dataclasses.dataclass
class Licence:
    family_name: str = "CARDHOLDER"
    given_name: str = "IMA"
    middle_name: str = ""
    number: str = "I1234568"
    birth: datetime.date = datetime.date(1977, 8, 31)
    expiry: datetime.date = datetime.date(2029, 8, 31)
    issue: datetime.date = datetime.date(2024, 8, 31)
    sex: str = "F"  # M or F
    height_in: int = 65  # inches (US); the barcode writes "065 IN"
    eyes: str = "BRN"
    street: str = "2570 24TH STREET"
    city: str = "ANYTOWN"
    postal: str = "95818"
    jurisdiction: str = "CA"
    vehicle_class: str = "C"
    discriminator: str = "08/31/2024A1B2C/CCFD/29"

    @property
    def iin(self):
        return JURISDICTIONS[self.jurisdiction][0]

    @property
    def state_name(self):
        return JURISDICTIONS[self.jurisdiction][1]

    @property
    def country(self):
        return JURISDICTIONS[self.jurisdiction][2]

    @property
    def given_names(self):
        return f"{self.given_name} {self.middle_name}".strip()


GIVEN = ["JOHN", "MARIA", "WEI", "AMARA", "OLAF", "PRIYA", "DIEGO", "FATIMA", "KENJI", "SOFIA", "LIAM", "NADIA"]
MIDDLE = ["", "", "LEE", "ANN", "JAMES", "", "ROSE", ""]
FAMILY = ["DOE", "GARCIA", "CHEN", "OKAFOR", "LARSEN", "SHARMA", "NGUYEN", "MUELLER", "KOWALSKI", "ABERNATHY",
          "FITZGERALD", "SANTOS", "JOHANSSON", "PATEL", "WASHINGTON", "MORENO"]
STREETS = ["MAIN ST", "OAK AVE", "ELM STREET", "24TH STREET", "PINE RD", "MAPLE DR", "LAKE BLVD"]
CITIES = ["SACRAMENTO", "ANYTOWN", "SPRINGFIELD", "RIVERSIDE", "FAIRVIEW", "GREENVILLE"]


def sample_licence(seed, jurisdiction=None):
    """A licence with varied names, dates and number (deterministic per seed)."""
    rnd = random.Random(7000 + seed)
    jur = jurisdiction or rnd.choice(["CA", "NY", "TX", "WA"])
    birth = datetime.date(rnd.randint(1950, 2004), rnd.randint(1, 12), rnd.randint(1, 28))
    issue = datetime.date(rnd.randint(2021, 2025), rnd.randint(1, 12), rnd.randint(1, 28))
    expiry = datetime.date(issue.year + 5, birth.month, birth.day)
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    number = {"CA": rnd.choice(letters) + "".join(rnd.choice("0123456789") for _ in range(7)),
              "NY": "".join(rnd.choice("0123456789") for _ in range(9)),
              "TX": "".join(rnd.choice("0123456789") for _ in range(8)),
              "WA": "WDL" + "".join(rnd.choice(letters + "0123456789") for _ in range(9)),
              "ON": rnd.choice(letters) + "".join(rnd.choice("0123456789") for _ in range(14))}[jur]
    return Licence(family_name=rnd.choice(FAMILY), given_name=rnd.choice(GIVEN), middle_name=rnd.choice(MIDDLE), number=number,
                   birth=birth, expiry=expiry, issue=issue, sex=rnd.choice("MF"), height_in=rnd.randint(58, 76),
                   eyes=rnd.choice(["BRN", "BLU", "GRN", "HAZ"]), street=f"{rnd.randint(10, 9999)} {rnd.choice(STREETS)}",
                   city=rnd.choice(CITIES), postal=f"{rnd.randint(10000, 99999)}", jurisdiction=jur,
                   vehicle_class=rnd.choice(["C", "D", "CM"]),
                   discriminator=f"{issue:%m/%d/%Y}{rnd.randint(10000, 99999)}/{rnd.choice(letters)}{rnd.choice(letters)}FD/{expiry:%y}")


# ---------------------------------------------------------------- the barcode

def aamva_date(d, country):
    return f"{d:%Y%m%d}" if country == "CAN" else f"{d:%m%d%Y}"


def aamva_elements(lic):
    c = lic.country
    height = f"{lic.height_in:03d} IN" if c == "USA" else f"{round(lic.height_in * 2.54):03d} CM"
    return [
        ("DCA", lic.vehicle_class), ("DCB", "NONE"), ("DCD", "NONE"), ("DBA", aamva_date(lic.expiry, c)),
        ("DCS", lic.family_name), ("DAC", lic.given_name), ("DAD", lic.middle_name or "NONE"),
        ("DBD", aamva_date(lic.issue, c)), ("DBB", aamva_date(lic.birth, c)), ("DBC", "1" if lic.sex == "M" else "2"),
        ("DAY", lic.eyes), ("DAU", height), ("DAG", lic.street), ("DAI", lic.city), ("DAJ", lic.jurisdiction),
        ("DAK", (lic.postal + "0000").ljust(11) if c == "USA" else lic.postal.ljust(11)), ("DAQ", lic.number),
        ("DCF", lic.discriminator), ("DCG", c), ("DDE", "N"), ("DDF", "N"), ("DDG", "N"),
    ]


def aamva_text(lic, version=10, jurisdiction_version=0):
    """The barcode's text, header offsets and length computed (one DL subfile)."""
    body = "DL" + "\n".join(k + v for k, v in aamva_elements(lic)) + "\r"
    head = f"@\n\x1e\rANSI {lic.iin}{version:02d}{jurisdiction_version:02d}01"
    offset = len(head) + 10
    return head + f"DL{offset:04d}{len(body):04d}" + body


def parse_aamva(text):
    """A small reader of what aamva_text writes (for the self-test; the contract is AAMVA.swift)."""
    assert text.startswith("@\n\x1e\rANSI "), "header"
    n = int(text[19:21])
    des = [(text[21 + 10 * i:23 + 10 * i], int(text[23 + 10 * i:27 + 10 * i]), int(text[27 + 10 * i:31 + 10 * i])) for i in range(n)]
    typ, off, length = des[0]
    sub = text[off:off + length]
    assert sub.startswith(typ) and sub.endswith("\r"), "subfile"
    return dict((f[:3], f[3:]) for f in sub[2:-1].split("\n"))


def render_barcode(text, width=900):
    from pdf417gen import encode, render_image
    codes = encode(text, columns=13, security_level=5)
    im = render_image(codes, scale=3, ratio=3, padding=0).convert("L")
    if im.width > width:
        im = im.resize((width, int(im.height * width / im.width)), Image.NEAREST)
    return im


# ---------------------------------------------------------------- drawing

def font(size, bold=False, condensed=False):
    name = "DejaVuSans" + ("Condensed" if condensed else "") + ("-Bold" if bold else "") + ".ttf"
    return ImageFont.truetype(os.path.join(FONT_DIR, name), size)


def background(size, seed, tint=(228, 236, 244)):
    W, H = size
    y, x = np.mgrid[0:H, 0:W]
    base = np.array(tint, np.float32)
    wave = 5 * np.sin(x / 23.0 + seed) * np.cos(y / 31.0) + 4 * np.sin(np.hypot(x - W * 0.7, y - H * 0.4) / 7.0)
    im = base[None, None, :] + wave[..., None] * np.array([1.0, 0.8, 0.6])[None, None, :]
    return Image.fromarray(np.clip(im, 0, 255).astype(np.uint8))


def portrait(face_path, size):
    """The face photo cropped to the portrait's aspect ratio (top-weighted), on a light backdrop."""
    w, h = size
    if face_path and os.path.exists(face_path):
        src = Image.open(face_path).convert("RGB")
        sw, sh = src.size
        if sw / sh > w / h:
            cw, ch = int(sh * w / h), sh
        else:
            cw, ch = sw, int(sw * h / w)
        x0 = (sw - cw) // 2
        y0 = max(0, min(sh - ch, int((sh - ch) * 0.3)))
        return src.crop((x0, y0, x0 + cw, y0 + ch)).resize(size, Image.LANCZOS)
    im = Image.new("RGB", size, (200, 205, 210))
    d = ImageDraw.Draw(im)
    d.ellipse([w * 0.25, h * 0.15, w * 0.75, h * 0.6], fill=(190, 150, 120))
    d.rectangle([w * 0.1, h * 0.7, w * 0.9, h], fill=(60, 70, 100))
    return im


def us_date(d):
    return f"{d:%m/%d/%Y}"


def front_date(d, country):
    return f"{d:%Y/%m/%d}" if country == "CAN" else us_date(d)


def render_front(lic, face=None, printed=None, blank=False, layout=None, seed=0):
    """The card's front. `printed` overrides what is printed (not the barcode); `layout` is "labels"
    (DL / EXP / LN / FN / DOB, as California prints them) or "numbered" (AAMVA 2020 field numbers:
    4d DLN, 1 family name, 2 given names, 3 DOB, 4a ISS, 4b EXP, 8 address); default by jurisdiction."""
    p = dataclasses.replace(lic, **(printed or {}))
    W, H = CARD_SIZE
    im = background(CARD_SIZE, seed)
    d = ImageDraw.Draw(im)
    red, ink, blue = (170, 20, 30), (15, 15, 25), (25, 55, 120)
    # Header: the jurisdiction, the document's name, the country.
    d.rectangle([0, 0, W, 96], fill=(205, 220, 238))
    px, py, pw, ph = 30, 130, 300, 390
    if blank:  # only the photo: nothing to read
        im.paste(portrait(face, (pw, ph)), (px, py))
        return im
    d.text((28, 14), p.state_name, font=font(48, bold=True), fill=blue)
    d.text((W - 28, 16), "USA" if p.country == "USA" else "CANADA", font=font(30, bold=True), fill=blue, anchor="ra")
    d.text((W - 28, 58), "DRIVER LICENSE" if p.country == "USA" else "DRIVER'S LICENCE", font=font(26, bold=True), fill=red, anchor="ra")
    # The holder's photo.
    im.paste(portrait(face, (pw, ph)), (px, py))
    d.rectangle([px - 1, py - 1, px + pw, py + ph], outline=(120, 130, 140))
    # A signature under the photo.
    rnd = random.Random(seed + 11)
    pts = [(px + 20 + i * 13, py + ph + 60 + rnd.randint(-14, 14)) for i in range(20)]
    d.line(pts, fill=(30, 30, 90), width=3)
    c = p.country
    x0 = 365
    label_f, value_f, small_f = font(22, bold=True), font(34, bold=True), font(24)
    layout = layout or ("numbered" if p.jurisdiction in ("NY", "WA", "ON") else "labels")

    def field(x, y, label, value, vf=value_f, lf=label_f):
        d.text((x, y + 10), label, font=lf, fill=red)
        lw = d.textlength(label, font=lf)
        d.text((x + lw + 10, y), value, font=vf, fill=ink)

    if layout == "labels":
        field(x0, 112, "DL", p.number, vf=font(40, bold=True))
        field(x0, 166, "EXP", front_date(p.expiry, c), vf=font(34, bold=True))
        field(x0, 222, "LN", p.family_name)
        field(x0, 268, "FN", p.given_names)
        d.text((x0, 318), p.street, font=small_f, fill=ink)
        d.text((x0, 348), f"{p.city}, {p.jurisdiction} {p.postal}", font=small_f, fill=ink)
        field(x0, 392, "DOB", front_date(p.birth, c), vf=font(34, bold=True))
        field(x0, 446, "CLASS", p.vehicle_class, vf=font(26, bold=True))
        field(x0 + 200, 446, "SEX", p.sex, vf=font(26, bold=True))
        field(x0 + 360, 446, "HGT", f"{p.height_in // 12}-{p.height_in % 12:02d}", vf=font(26, bold=True))
        field(x0, 494, "EYES", p.eyes, vf=font(26, bold=True))
        field(x0 + 200, 494, "ISS", front_date(p.issue, c), vf=font(26, bold=True))
        d.text((x0, 560), "DD " + p.discriminator, font=font(18), fill=ink)
    else:
        lf = font(20, bold=True)
        field(x0, 112, "4d DLN", p.number, vf=font(36, bold=True), lf=lf)
        field(x0, 168, "1", p.family_name, lf=lf)
        field(x0, 214, "2", p.given_names, lf=lf)
        d.text((x0, 262), "8 " + p.street, font=small_f, fill=ink)
        d.text((x0 + 22, 292), f"{p.city}, {p.jurisdiction} {p.postal}", font=small_f, fill=ink)
        field(x0, 336, "3 DOB", front_date(p.birth, c), vf=font(32, bold=True), lf=lf)
        field(x0, 386, "4a ISS", front_date(p.issue, c), vf=font(26, bold=True), lf=lf)
        field(x0 + 290, 386, "4b EXP", front_date(p.expiry, c), vf=font(26, bold=True), lf=lf)
        field(x0, 434, "9 CLASS", p.vehicle_class, vf=font(26, bold=True), lf=lf)
        field(x0 + 200, 434, "15 SEX", p.sex, vf=font(26, bold=True), lf=lf)
        field(x0 + 380, 434, "16 HGT", f"{p.height_in // 12}-{p.height_in % 12:02d}", vf=font(26, bold=True), lf=lf)
        field(x0, 480, "18 EYES", p.eyes, vf=font(26, bold=True), lf=lf)
        d.text((x0, 560), "5 DD " + p.discriminator, font=font(18), fill=ink)
    return im


def render_back(lic, barcode_text=None, seed=0):
    """The card's back: the PDF417 with the licence's AAMVA data, and some fine print."""
    W, H = CARD_SIZE
    im = background(CARD_SIZE, seed + 5, tint=(236, 238, 240))
    d = ImageDraw.Draw(im)
    code = render_barcode(barcode_text if barcode_text is not None else aamva_text(lic), width=W - 80)
    # Printed on the card's stock, not pure white (a white area would read as glare in the quality op).
    code = code.point(lambda v: 236 if v > 127 else 24)
    box = Image.new("L", (code.width + 40, code.height + 40), 236)
    box.paste(code, (20, 20))
    im.paste(box.convert("RGB"), ((W - box.width) // 2, 40))
    y = 40 + box.height + 20
    d.text((40, y), "THIS LICENSE IS ISSUED AS A LICENSE TO DRIVE A MOTOR VEHICLE.", font=font(18), fill=(40, 40, 50))
    d.text((40, y + 28), "IT DOES NOT ESTABLISH ELIGIBILITY FOR EMPLOYMENT OR VOTER REGISTRATION.", font=font(18), fill=(40, 40, 50))
    return im


# ---------------------------------------------------------------- capture

def phone_photo(card, angle=0.0, blur=0.0, quality=85, noise=0.0, margin=0.05, seed=0, scale=1.0):
    """The card as a phone would capture it: on a table (a margin around it), turned by `angle`
    degrees (counter-clockwise), Gaussian blur `blur` px, sensor noise, uneven light, JPEG `quality`.
    Returns JPEG bytes."""
    rng = np.random.default_rng(seed)
    W, H = card.size
    m = int(W * margin)
    table = np.full((H + 2 * m, W + 2 * m, 3), (118, 96, 74), np.float32)
    table += rng.normal(0, 6, table.shape[:2])[..., None]
    out = Image.fromarray(np.clip(table, 0, 255).astype(np.uint8))
    out.paste(card, (m, m))
    if angle:
        out = out.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=(118, 96, 74))
    if scale != 1.0:
        out = out.resize((int(out.width * scale), int(out.height * scale)), Image.LANCZOS)
    if blur:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    a = np.asarray(out, np.float32)
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    light = 1.0 - 0.12 * (xx / a.shape[1]) - 0.06 * (yy / a.shape[0])
    a = a * light[..., None]
    if noise:
        a = a + rng.normal(0, noise, a.shape)
    out = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def encode(im, fmt="PNG", **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


# ---------------------------------------------------------------- matching (for measurements)

def norm(s):
    """Upper case, letters and digits only."""
    return "".join(ch for ch in s.upper() if ch.isalnum())


LOOK_ALIKES = str.maketrans("OQDILZSBG", "000112586")


def fold(s):
    """norm(s) with OCR look-alikes folded to digits (O Q D -> 0, I L -> 1, Z -> 2, S -> 5, B -> 8, G -> 6): for
    comparing document numbers, which mix letters and digits."""
    return norm(s).translate(LOOK_ALIKES)


def front_fields(lic):
    """What the Swift side looks for on the front: {field: [accepted normalised forms]}."""
    return {
        "number": [norm(lic.number)],
        "family_name": [norm(lic.family_name)],
        "given_name": [norm(lic.given_name)],
        "birth": [lic.birth.strftime("%m%d%Y"), lic.birth.strftime("%Y%m%d")],
    }


def found_fields(lic, lines):
    """{field: True/False}: each field's normalised value appears within one normalised line; `number_folded`:
    the number found once look-alikes are folded on both sides."""
    normed = [norm(l) for l in lines]
    out = {k: any(any(f in l for l in normed) for f in forms) for k, forms in front_fields(lic).items()}
    out["number_folded"] = any(fold(lic.number) in fold(l) for l in lines)
    return out


# ---------------------------------------------------------------- self-test and CLI

def self_test():
    ok = True
    for seed in range(6):
        lic = sample_licence(seed, jurisdiction="ON" if seed == 5 else None)
        text = aamva_text(lic)
        el = parse_aamva(text)
        c = lic.country
        good = (el["DAQ"] == lic.number and el["DCS"] == lic.family_name and el["DAC"] == lic.given_name
                and el["DBB"] == aamva_date(lic.birth, c) and el["DCG"] == c and text[21:23] == "DL"
                and text[int(text[23:27]):].startswith("DL") and len(text) - int(text[23:27]) == int(text[27:31]))
        front = render_front(lic, None, seed=seed)
        back = render_back(lic, seed=seed)
        jpeg = phone_photo(front, angle=1.5, blur=0.8, quality=70, seed=seed)
        good = good and front.size == CARD_SIZE and back.size == CARD_SIZE and jpeg[:3] == b"\xff\xd8\xff"
        print(("PASS" if good else "FAIL") + f" card {seed}: {lic.jurisdiction} {lic.family_name}, {lic.given_names}, "
              f"DOB {lic.birth}, {lic.number}; barcode {len(text)} chars")
        ok = ok and good
    lic = sample_licence(0)
    f = found_fields(lic, [f"LN {lic.family_name}", f"FN {lic.given_name} X", f"DOB {us_date(lic.birth)}", f"DL {lic.number}"])
    ok = ok and all(f.values()) and not any(found_fields(lic, ["NOTHING HERE"]).values())
    print(("PASS" if ok else "FAIL") + " idv_cards self-test")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--face")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--family-on-front")
    ap.add_argument("--birth-on-front")
    ap.add_argument("--number-on-front")
    ap.add_argument("--blank-front", action="store_true")
    ap.add_argument("--phone", action="store_true", help="the front as a phone photo (1.5°, blur 0.8, JPEG 70)")
    a = ap.parse_args()
    if a.self_test or not a.out:
        return self_test()
    lic = sample_licence(a.seed)
    printed = {}
    if a.family_on_front:
        printed["family_name"] = a.family_on_front
    if a.birth_on_front:
        printed["birth"] = datetime.date.fromisoformat(a.birth_on_front)
    if a.number_on_front:
        printed["number"] = a.number_on_front
    os.makedirs(a.out, exist_ok=True)
    front = render_front(lic, a.face, printed=printed, blank=a.blank_front, seed=a.seed)
    with open(os.path.join(a.out, "front.jpg" if a.phone else "front.png"), "wb") as f:
        f.write(phone_photo(front, angle=1.5, blur=0.8, quality=70, seed=a.seed) if a.phone else encode(front))
    render_back(lic, seed=a.seed).save(os.path.join(a.out, "back.png"))
    print(f"{lic.jurisdiction} {lic.family_name}, {lic.given_names}, DOB {lic.birth}, DL {lic.number} -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
