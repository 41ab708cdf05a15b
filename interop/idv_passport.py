#!/usr/bin/env python3
"""A synthetic ePassport chip (ICAO Doc 9303 parts 10 and 11), made with the `openssl` tool, for the
identity-verification interop suite (interop/idv_e2e.py) — and its forgeries.

What it writes (one folder per passport):
  csca.pem / csca.key   a Country Signing CA, self-signed, brainpoolP256r1 (ECDSA), CA:TRUE, keyCertSign
  ds.pem / ds.key       a document signer (prime256v1) issued by that CSCA
  dg1.bin               EF.DG1: tag 0x61 { 0x5F1F: the 88-character TD3 MRZ } (check digits computed here,
                        ICAO Doc 9303 part 3 §4.9: weights 7-3-1, digits as themselves, A-Z as 10-35, `<` as 0)
  dg2.bin               EF.DG2: tag 0x75 { 0x7F61 biometric information group template { 0x02 count=1,
                        0x7F60 { 0xA1 biometric header template { 0x80 patron header version, 0x81 type = face,
                        0x87 format owner, 0x88 format type }, 0x5F2E biometric data block: the ISO/IEC 19794-5
                        face record ("FAC\\0", "010\\0", lengths, facial information, image information: JPEG,
                        width, height) followed by the JPEG bytes of the portrait } } }
  lds.der               LDSSecurityObject ::= SEQUENCE { version INTEGER 0, hashAlgorithm (sha256),
                        dataGroupHashValues SEQUENCE OF SEQUENCE { dataGroupNumber INTEGER, hash OCTET STRING } }
  sod.bin               EF.SOD: tag 0x77 { CMS SignedData of lds.der, eContentType id-icao-ldsSecurityObject
                        2.23.136.1.1.1 } signed by `openssl cms -sign -binary -nodetach -econtent_type 2.23.136.1.1.1
                        -md sha256 -nosmimecap` with the DS
  passport.json         what was made: the MRZ, the holder's data, the forgery, the file names

Forgeries (--forge):
  altered-dg1        DG1 changed after signing (another birth date, check digits recomputed): the SOD still
                     verifies, DG1's hash in it does not match
  other-csca         the DS is issued by a second CSCA (written as other-csca.pem), not the one given to the server
  expired            a correctly signed passport whose expiry date is in the past
  flipped-signature  one byte of the SignerInfo's signature flipped: the CMS signature does not verify
  name-k             a `<` between the given names written as `K` (what an OCR misreading makes), signed as is:
                     every check digit and the SOD still verify, the name is different

    /opt/peers-venv/bin/python interop/idv_passport.py --out DIR [--portrait face.jpg] [--surname ERIKSSON]
        [--given "ANNA MARIA"] [--number L898902C3] [--forge KIND] [--pki DIR]
    /opt/peers-venv/bin/python interop/idv_passport.py --self-test

--pki DIR reuses (or first makes) a CSCA and DS there, so several passports share one CSCA. --self-test checks
the generator's own output: the ICAO specimen MRZ reproduced, DG1/DG2 parsed back, `openssl cms -verify` against
the CSCA, every data group re-hashed against the LDS security object, and each forgery failing exactly where it
should. Prints PASS/FAIL lines and "N passed, M failed"; exits 1 on any failure. Needs only `openssl` and Python.
"""
import argparse, base64, datetime, hashlib, json, os, secrets, shutil, string, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# ../shared/fixtures beside the repository; $SIGIL_FIXTURES_DIR points elsewhere (or at nothing, to run as a clone
# without it would).
FIXTURES = os.environ.get("SIGIL_FIXTURES_DIR") or os.path.normpath(os.path.join(HERE, "..", "..", "shared", "fixtures"))
FIXTURE_FACES = os.path.join(FIXTURES, "faces")
LDS_CONTENT_TYPE = "2.23.136.1.1.1"
SHA256_ALGORITHM = bytes.fromhex("300d06096086480165030402010500")  # AlgorithmIdentifier { sha256, NULL }
FORGERIES = ("altered-dg1", "other-csca", "expired", "flipped-signature", "name-k")

# A JPEG skeleton (SOI, APP0 JFIF, SOF0 of 1x1, EOI) for when no photograph is at hand: enough for the
# structure checks of --self-test, not a picture anyone can decode.
TINY_JPEG = (b"\xff\xd8" + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
             + b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00" + b"\xff\xd9")


# ---------------------------------------------------------------------------------------------------
# MRZ (ICAO Doc 9303 part 3 §4.9, part 4 TD3)
# ---------------------------------------------------------------------------------------------------

def char_value(c):
    if c.isdigit():
        return int(c)
    if c == "<":
        return 0
    if "A" <= c <= "Z":
        return ord(c) - ord("A") + 10
    raise ValueError(f"not an MRZ character: {c!r}")


def check_digit(field):
    """ICAO 9303 part 3 §4.9: sum of value × weight (7, 3, 1 repeating) modulo 10."""
    weights = (7, 3, 1)
    return str(sum(char_value(c) * weights[i % 3] for i, c in enumerate(field)) % 10)


def mrz_text(value):
    """Upper case A-Z 0-9; spaces, hyphens and apostrophes become `<`; anything else is dropped."""
    out = []
    for c in value.upper():
        if c in string.ascii_uppercase or c.isdigit():
            out.append(c)
        elif c in " -'":
            out.append("<")
    return "".join(out)


def pad(value, width):
    return (value + "<" * width)[:width]


def td3(surname, given, number, nationality="UTO", issuing="UTO", birth="740812", sex="F", expiry="120415",
        personal="", doc_code="P<"):
    """The 88 characters (two lines of 44) of a TD3 MRZ with every check digit."""
    names = pad(mrz_text(surname) + "<<" + mrz_text(given), 39)
    line1 = pad(doc_code, 2) + issuing + names
    num = pad(mrz_text(number), 9)
    pers = pad(mrz_text(personal), 14)
    pers_cd = "<" if pers == "<" * 14 else check_digit(pers)
    line2 = num + check_digit(num) + nationality + birth + check_digit(birth) + sex + expiry + check_digit(expiry) + pers + pers_cd
    composite = line2[0:10] + line2[13:20] + line2[21:43]
    line2 += check_digit(composite)
    assert len(line1) == 44 and len(line2) == 44, (line1, line2)
    return line1 + line2


def mrz_check_digits_valid(mrz):
    """Recomputes every TD3 check digit of an 88-character MRZ; returns the list of fields that do not verify."""
    l2 = mrz[44:]
    bad = []
    for name, field, cd in (("document_number", l2[0:9], l2[9]), ("birth_date", l2[13:19], l2[19]),
                            ("expiry_date", l2[21:27], l2[27])):
        if check_digit(field) != cd:
            bad.append(name)
    pers, pcd = l2[28:42], l2[42]
    if not ((pers == "<" * 14 and pcd in "<0") or check_digit(pers) == pcd):
        bad.append("personal_number")
    if check_digit(l2[0:10] + l2[13:20] + l2[21:43]) != l2[43]:
        bad.append("composite")
    return bad


def yymmdd(date):
    return date.strftime("%y%m%d")


# ---------------------------------------------------------------------------------------------------
# BER-TLV / DER
# ---------------------------------------------------------------------------------------------------

def der_length(n):
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag, body):
    """tag: an int (one byte) or bytes (multi-byte tags such as 5F1F, 7F61)."""
    tag = bytes([tag]) if isinstance(tag, int) else bytes(tag)
    return tag + der_length(len(body)) + body


def read_tlv(data, offset=0):
    """(tag bytes, value start, value end) of the TLV at offset."""
    i = offset
    tag = bytes([data[i]])
    if data[i] & 0x1F == 0x1F:
        i += 1
        while data[i] & 0x80:
            tag += bytes([data[i]])
            i += 1
        tag += bytes([data[i]])
    i += 1
    first = data[i]
    i += 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[i:i + count], "big")
        i += count
    if i + length > len(data):
        raise ValueError("TLV runs past the end")
    return tag, i, i + length


def children(data, start=0, end=None):
    """The TLVs one after the other in data[start:end]: [(tag, value start, value end)]."""
    end = len(data) if end is None else end
    out, i = [], start
    while i < end:
        tag, s, e = read_tlv(data, i)
        out.append((tag, s, e))
        i = e
    return out


def der_integer(n):
    raw = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")
    return tlv(0x02, raw)


# ---------------------------------------------------------------------------------------------------
# Data groups
# ---------------------------------------------------------------------------------------------------

def jpeg_size(data):
    """(width, height) from a JPEG's first SOFn marker."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI)")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
        i += 2 + length
    raise ValueError("no SOF marker in the JPEG")


def dg1(mrz):
    assert len(mrz) == 88, len(mrz)
    return tlv(0x61, tlv(b"\x5f\x1f", mrz.encode("ascii")))


def face_record(jpeg, gender=2):
    """ISO/IEC 19794-5:2005 facial record: general header, one facial record header with the facial
    information (no feature points) and the image information, then the JPEG."""
    width, height = jpeg_size(jpeg)
    facial_info = (bytes([gender, 0, 0]) + b"\x00\x00\x00"  # gender (1 male, 2 female), eye, hair, feature mask
                   + b"\x00\x00" + b"\x00\x00\x00" + b"\x00\x00\x00")  # expression, pose angles, their uncertainty
    image_info = (bytes([0x01, 0x00])  # face image type: full frontal; image data type: JPEG
                  + width.to_bytes(2, "big") + height.to_bytes(2, "big")
                  + bytes([0x01, 0x02]) + b"\x00\x00" + b"\x00\x00")  # colour space sRGB, source: digital still; device; quality
    record_len = 4 + 2 + len(facial_info) + len(image_info) + len(jpeg)
    record = record_len.to_bytes(4, "big") + (0).to_bytes(2, "big") + facial_info + image_info + jpeg
    header = b"FAC\x00" + b"010\x00" + (14 + len(record)).to_bytes(4, "big") + (1).to_bytes(2, "big")
    return header + record


def dg2(jpeg, gender=2):
    bht = tlv(0xA1, tlv(0x80, b"\x01\x01") + tlv(0x81, b"\x02") + tlv(0x87, b"\x01\x01") + tlv(0x88, b"\x00\x08"))
    bit = tlv(b"\x7f\x60", bht + tlv(b"\x5f\x2e", face_record(jpeg, gender)))
    return tlv(0x75, tlv(b"\x7f\x61", tlv(0x02, b"\x01") + bit))


def parse_dg1(data):
    tag, s, e = read_tlv(data)
    if tag != b"\x61":
        raise ValueError(f"DG1 tag {tag.hex()}")
    inner = children(data, s, e)
    mrz = [data[a:b] for t, a, b in inner if t == b"\x5f\x1f"]
    if not mrz:
        raise ValueError("no 5F1F in DG1")
    return mrz[0].decode("ascii")


def parse_dg2(data):
    """The face records' image bytes, walking 75 → 7F61 → 7F60 → 5F2E → 19794-5 record."""
    tag, s, e = read_tlv(data)
    if tag != b"\x75":
        raise ValueError(f"DG2 tag {tag.hex()}")
    images = []
    for t, a, b in children(data, s, e):
        if t != b"\x7f\x61":
            continue
        for t2, a2, b2 in children(data, a, b):
            if t2 != b"\x7f\x60":
                continue
            for t3, a3, b3 in children(data, a2, b2):
                if t3 in (b"\x5f\x2e", b"\x7f\x2e"):
                    block = data[a3:b3]
                    if block[:4] != b"FAC\x00":
                        raise ValueError("biometric data block is not an ISO 19794-5 record")
                    count = int.from_bytes(block[12:14], "big")
                    i = 14
                    for _ in range(count):
                        length = int.from_bytes(block[i:i + 4], "big")
                        points = int.from_bytes(block[i + 4:i + 6], "big")
                        image_start = i + 20 + 8 * points + 12
                        images.append({"type": block[i + 20 + 8 * points + 1], "width": int.from_bytes(block[i + 20 + 8 * points + 2:i + 20 + 8 * points + 4], "big"),
                                       "height": int.from_bytes(block[i + 20 + 8 * points + 4:i + 20 + 8 * points + 6], "big"),
                                       "data": block[image_start:i + length]})
                        i += length
    return images


def lds_security_object(groups):
    hashes = b"".join(tlv(0x30, der_integer(n) + tlv(0x04, hashlib.sha256(groups[n]).digest())) for n in sorted(groups))
    return tlv(0x30, der_integer(0) + SHA256_ALGORITHM + tlv(0x30, hashes))


def parse_lds(data):
    """{dg number: hash bytes} and the hash algorithm's DER, from an LDSSecurityObject."""
    _, s, e = read_tlv(data)
    items = children(data, s, e)
    algorithm = data[items[1][1] - 2:items[1][2]]
    out = {}
    for _, a, b in children(data, items[2][1], items[2][2]):
        (t1, a1, b1), (t2, a2, b2) = children(data, a, b)
        out[int.from_bytes(data[a1:b1], "big")] = data[a2:b2]
    return out, algorithm


def unwrap_sod(sod):
    tag, s, e = read_tlv(sod)
    if tag != b"\x77":
        raise ValueError(f"EF.SOD tag {tag.hex()}")
    return sod[s:e]


def signature_offsets(cms):
    """(start, end) of the first SignerInfo's signature OCTET STRING inside a DER ContentInfo(SignedData)."""
    _, s, e = read_tlv(cms)  # ContentInfo
    (_, _, _), (t0, a0, b0) = children(cms, s, e)[:2]  # contentType, [0]
    _, sd_s, sd_e = read_tlv(cms, a0)  # SignedData
    signer_infos = children(cms, sd_s, sd_e)[-1]  # SET OF SignerInfo (the last member)
    _, si_s, si_e = children(cms, signer_infos[1], signer_infos[2])[0]
    for tag, a, b in children(cms, si_s, si_e):
        if tag == b"\x04":
            return a, b
    raise ValueError("no signature in the SignerInfo")


# ---------------------------------------------------------------------------------------------------
# The PKI and the passport
# ---------------------------------------------------------------------------------------------------

def openssl(*args, cwd=None, check=True):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr.strip()[:400]}")
    return r


def make_csca(directory, name="csca", country="UT", label="Utopia"):
    """A self-signed brainpoolP256r1 CSCA: {name}.key, {name}.pem."""
    key, pem = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".pem")
    if not os.path.exists(pem):
        openssl("ecparam", "-name", "brainpoolP256r1", "-genkey", "-noout", "-out", key)
        openssl("req", "-x509", "-new", "-key", key, "-subj", f"/C={country}/O={label}/CN=CSCA {label} {name}", "-days", "3650",
                "-out", pem, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return pem, key


def make_ds(directory, csca_pem, csca_key, name="ds", label="Utopia"):
    """A prime256v1 document signer issued by the CSCA: {name}.key, {name}.pem."""
    key, pem = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".pem")
    if not os.path.exists(pem):
        csr = os.path.join(directory, name + ".csr")
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
        openssl("req", "-new", "-key", key, "-subj", f"/C=UT/O={label}/CN=DS {label} {name}", "-out", csr)
        ext = os.path.join(directory, name + ".ext")
        with open(ext, "w") as f:
            f.write("keyUsage=critical,digitalSignature\n")
        openssl("x509", "-req", "-in", csr, "-CA", csca_pem, "-CAkey", csca_key, "-set_serial", str(secrets.randbelow(2 ** 62) + 1),
                "-days", "3650", "-extfile", ext, "-out", pem)
    return pem, key


def make_pki(directory):
    """The CSCA + DS of Utopia in `directory` (made once, reused), and a second CSCA + DS (the forger's)."""
    os.makedirs(directory, exist_ok=True)
    csca = make_csca(directory, "csca")
    ds = make_ds(directory, *csca, "ds")
    other = make_csca(directory, "other-csca", label="Forgeria")
    other_ds = make_ds(directory, *other, "other-ds", label="Forgeria")
    return {"csca": csca, "ds": ds, "other_csca": other, "other_ds": other_ds, "dir": directory}


def sign_sod(lds, ds_pem, ds_key, workdir):
    src, out = os.path.join(workdir, "lds.der"), os.path.join(workdir, "sod.cms")
    with open(src, "wb") as f:
        f.write(lds)
    openssl("cms", "-sign", "-binary", "-nodetach", "-in", src, "-econtent_type", LDS_CONTENT_TYPE, "-md", "sha256",
            "-signer", ds_pem, "-inkey", ds_key, "-outform", "DER", "-out", out, "-nosmimecap")
    with open(out, "rb") as f:
        cms = f.read()
    return tlv(0x77, cms)


def random_document_number():
    """Nine characters, a letter first: distinctive enough to grep logs and databases for."""
    return secrets.choice(string.ascii_uppercase) + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))


def make_passport(out, pki, portrait, surname="ERIKSSON", given="ANNA MARIA", number=None, birth="740812", sex="F",
                  expiry=None, forge=None, nationality="UTO"):
    """Writes one passport into `out` and returns its description (also passport.json)."""
    if forge not in (None,) + FORGERIES:
        raise ValueError(f"unknown forgery {forge!r}; one of {FORGERIES}")
    os.makedirs(out, exist_ok=True)
    today = datetime.date.today()
    number = number or random_document_number()
    if expiry is None:
        expiry = yymmdd(today.replace(year=today.year - 1) if forge == "expired" else today.replace(year=today.year + 5))
    if forge == "name-k":
        parts = given.split()
        if len(parts) < 2:
            raise ValueError("name-k needs two given names (a `<` between them becomes K)")
    mrz = td3(surname, given, number, nationality, nationality, birth, sex, expiry)
    if forge == "name-k":
        sep = 5 + len(mrz_text(surname)) + 2 + len(mrz_text(given.split()[0]))
        assert mrz[sep] == "<", mrz
        mrz = mrz[:sep] + "K" + mrz[sep + 1:]
    d1, d2 = dg1(mrz), dg2(portrait, 2 if sex == "F" else 1)
    ds = pki["other_ds"] if forge == "other-csca" else pki["ds"]
    lds = lds_security_object({1: d1, 2: d2})
    sod = sign_sod(lds, ds[0], ds[1], out)
    signed_mrz = mrz
    if forge == "altered-dg1":
        other_birth = "650101" if birth != "650101" else "660202"
        mrz = td3(surname, given, number, nationality, nationality, other_birth, sex, expiry)
        d1 = dg1(mrz)
    signed_sod_length = len(sod)
    if forge == "flipped-signature":
        cms = unwrap_sod(sod)
        a, b = signature_offsets(cms)
        prefix = sod[:len(sod) - len(cms)]
        cms = bytearray(cms)
        cms[b - 1] ^= 0x01  # the last byte of ECDSA's s: the DER still parses, the signature does not verify
        sod = prefix + bytes(cms)
    files = {"dg1": "dg1.bin", "dg2": "dg2.bin", "sod": "sod.bin", "lds": "lds.der"}
    for name, data in (("dg1", d1), ("dg2", d2), ("sod", sod), ("lds", lds)):
        with open(os.path.join(out, files[name]), "wb") as f:
            f.write(data)
    trust_pem = pki["csca"][0]
    shutil.copyfile(trust_pem, os.path.join(out, "csca.pem"))
    shutil.copyfile(pki["other_csca"][0], os.path.join(out, "other-csca.pem"))
    info = {"mrz": mrz, "signed_mrz": signed_mrz, "surname": surname, "given": given, "document_number": number,
            "birth": birth, "expiry": expiry, "sex": sex, "nationality": nationality, "forge": forge,
            "files": {k: os.path.join(out, v) for k, v in files.items()},
            "csca_pem": os.path.join(out, "csca.pem"), "other_csca_pem": os.path.join(out, "other-csca.pem"),
            "ds_pem": ds[0], "signed_sod_length": signed_sod_length}
    with open(os.path.join(out, "passport.json"), "w") as f:
        json.dump(info, f, indent=1)
    info.update({"dg1_bytes": d1, "dg2_bytes": d2, "sod_bytes": sod, "portrait": portrait})
    return info


def verify(info, csca_pem, workdir):
    """What a reader does: (cms signature and chain verify?, {dg: hash matches?}, LDS or None)."""
    cms = os.path.join(workdir, "verify.cms")
    lds_out = os.path.join(workdir, "verify.lds")
    with open(cms, "wb") as f:
        f.write(unwrap_sod(info["sod_bytes"]))
    r = openssl("cms", "-verify", "-inform", "DER", "-in", cms, "-CAfile", csca_pem, "-purpose", "any", "-binary", "-out", lds_out,
                check=False)
    ok = r.returncode == 0
    lds = open(lds_out, "rb").read() if ok and os.path.exists(lds_out) else None
    if lds is None:  # the content, read without verification, to still compare hashes
        r2 = openssl("cms", "-verify", "-noverify", "-nosigs", "-inform", "DER", "-in", cms, "-binary", "-out", lds_out, check=False)
        lds = open(lds_out, "rb").read() if r2.returncode == 0 else None
    matches = {}
    if lds is not None:
        table, _ = parse_lds(lds)
        for n, data in ((1, info["dg1_bytes"]), (2, info["dg2_bytes"])):
            matches[n] = table.get(n) == hashlib.sha256(data).digest()
    return ok, matches, lds, r.stderr


# ---------------------------------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------------------------------

RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else f": {detail}"), flush=True)
    return ok


def self_test():
    # ICAO Doc 9303 part 4 Appendix A, the TD3 specimen (Anna Maria Eriksson, Utopia).
    specimen = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
                "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
    made = td3("Eriksson", "Anna Maria", "L898902C3", birth="740812", sex="F", expiry="120415", personal="ZE184226B")
    check("TD3 MRZ: the ICAO 9303 specimen reproduced character for character (every check digit and the composite)",
          made == specimen, f"\n{made[:44]}\n{made[44:]}")
    check("check digits of the specimen's fields: L898902C3→6, 740812→2, 120415→9, ZE184226B<<<<<→1",
          [check_digit(x) for x in ("L898902C3", "740812", "120415", "ZE184226B<<<<<")] == ["6", "2", "9", "1"])
    check("a one-character change in the document number breaks its check digit and the composite",
          mrz_check_digits_valid(specimen[:44] + "L898902C4" + specimen[53:]) == ["document_number", "composite"])
    empty = td3("Eriksson", "Anna", "X12345678", birth="850101", expiry="300101")
    check("an empty personal number: `<` check digit, the composite still verifies", empty[86] == "<" and not mrz_check_digits_valid(empty), empty[44:])

    portrait_path = os.path.join(FIXTURE_FACES, "obama__a.jpg")
    if os.path.exists(portrait_path):
        portrait = open(portrait_path, "rb").read()
        print(f"(portrait: {portrait_path})")
    else:
        portrait = TINY_JPEG
        print(f"SKIP photograph portrait: {FIXTURE_FACES} absent; using a 1x1 JPEG made in this file")
    work = tempfile.mkdtemp(prefix="sigil-passport-")
    try:
        pki = make_pki(os.path.join(work, "pki"))
        subj = openssl("x509", "-in", pki["csca"][0], "-noout", "-text").stdout
        check("the CSCA is brainpoolP256r1, CA:TRUE, keyCertSign", "brainpoolP256r1" in subj and "CA:TRUE" in subj and "Certificate Sign" in subj)
        dstext = openssl("x509", "-in", pki["ds"][0], "-noout", "-text").stdout
        check("the DS is prime256v1 and issued by the CSCA", ("prime256v1" in dstext or "P-256" in dstext)
              and openssl("verify", "-CAfile", pki["csca"][0], "-purpose", "any", pki["ds"][0], check=False).returncode == 0)

        good = make_passport(os.path.join(work, "good"), pki, portrait)
        mrz = parse_dg1(good["dg1_bytes"])
        check("DG1 is 61 { 5F1F: 88 characters } and reads back as the MRZ", mrz == good["mrz"] and len(mrz) == 88, mrz)
        check("DG1's MRZ: every check digit verifies", not mrz_check_digits_valid(mrz), str(mrz_check_digits_valid(mrz)))
        images = parse_dg2(good["dg2_bytes"])
        w, h = jpeg_size(portrait)
        check("DG2 is 75 → 7F61 → 7F60 → 5F2E with one ISO 19794-5 face record holding the portrait's JPEG bytes, its width and height",
              len(images) == 1 and images[0]["data"] == portrait and images[0]["type"] == 0 and (images[0]["width"], images[0]["height"]) == (w, h),
              str([(i["type"], i["width"], i["height"], len(i["data"])) for i in images]))
        bht = good["dg2_bytes"].find(b"\x7f\x61")
        check("DG2 holds the count (02 01 01) and the biometric header template (A1, type 81 = face 02)",
              good["dg2_bytes"][bht:bht + 12].find(b"\x02\x01\x01") >= 0 and b"\x81\x01\x02" in good["dg2_bytes"][:64])
        ok, matches, lds, err = verify(good, pki["csca"][0], work)
        check("openssl cms -verify: the SOD verifies with its DS, chained to the CSCA", ok, err.strip()[:300])
        check("the signed content is the LDS security object written (version 0, sha256)", lds == open(good["files"]["lds"], "rb").read()
              and parse_lds(lds)[1] == SHA256_ALGORITHM, "")
        check("re-hashing DG1 and DG2 gives the SOD's hashes", matches == {1: True, 2: True}, str(matches))
        cms = unwrap_sod(good["sod_bytes"])
        ctype = subprocess.run(["openssl", "asn1parse", "-inform", "DER"], input=cms, capture_output=True).stdout.decode(errors="replace")
        check("EF.SOD is 77 { SignedData } with eContentType 2.23.136.1.1.1", good["sod_bytes"][0] == 0x77 and "2.23.136.1.1.1" in ctype, "")
        ok_other, _, _, _ = verify(good, pki["other_csca"][0], work)
        check("... and does not verify against another CSCA", not ok_other)

        f = make_passport(os.path.join(work, "altered"), pki, portrait, forge="altered-dg1")
        ok, matches, _, err = verify(f, pki["csca"][0], work)
        check("forge altered-dg1: the SOD still verifies, DG1's hash does not match, DG2's does; the altered MRZ's check digits verify",
              ok and matches == {1: False, 2: True} and not mrz_check_digits_valid(parse_dg1(f["dg1_bytes"])) and f["mrz"] != f["signed_mrz"],
              f"{ok} {matches} {err[:200]}")
        f = make_passport(os.path.join(work, "other"), pki, portrait, forge="other-csca")
        ok, matches, _, err = verify(f, pki["csca"][0], work)
        ok2, matches2, _, _ = verify(f, pki["other_csca"][0], work)
        check("forge other-csca: refused against Utopia's CSCA, verifies against the forger's, hashes match",
              not ok and ok2 and matches2 == {1: True, 2: True}, f"{ok} {ok2} {matches2}")
        f = make_passport(os.path.join(work, "expired"), pki, portrait, forge="expired")
        ok, matches, _, _ = verify(f, pki["csca"][0], work)
        exp = datetime.datetime.strptime(f["expiry"], "%y%m%d").date()
        check("forge expired: signed and hashed correctly, expiry in the past, check digits verify",
              ok and matches == {1: True, 2: True} and exp < datetime.date.today() and not mrz_check_digits_valid(f["mrz"]), f"{f['expiry']}")
        f = make_passport(os.path.join(work, "flipped"), pki, portrait, forge="flipped-signature")
        ok, matches, _, err = verify(f, pki["csca"][0], work)
        check("forge flipped-signature: same length as signed, openssl cms -verify refuses it, the content's hashes still match",
              not ok and matches == {1: True, 2: True} and len(f["sod_bytes"]) == f["signed_sod_length"], f"{ok} {matches} {err[:200]}")
        f = make_passport(os.path.join(work, "namek"), pki, portrait, forge="name-k")
        ok, matches, _, _ = verify(f, pki["csca"][0], work)
        check("forge name-k: ERIKSSON<<ANNAKMARIA, every check digit and the SOD verify",
              "ERIKSSON<<ANNAKMARIA<" in f["mrz"] and ok and matches == {1: True, 2: True} and not mrz_check_digits_valid(f["mrz"]), f["mrz"][:44])
        again = make_passport(os.path.join(work, "again"), pki, portrait)
        check("--pki reuse: a second passport is signed by the same DS and CSCA, with another document number",
              again["ds_pem"] == good["ds_pem"] and again["document_number"] != good["document_number"]
              and verify(again, pki["csca"][0], work)[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--pki", help="folder of the CSCA and DS (made there the first time, then reused)")
    ap.add_argument("--portrait", help="JPEG for DG2 (default: ../shared/fixtures/faces/obama__a.jpg, else a 1x1 JPEG)")
    ap.add_argument("--surname", default="ERIKSSON")
    ap.add_argument("--given", default="ANNA MARIA")
    ap.add_argument("--number")
    ap.add_argument("--birth", default="740812", help="YYMMDD")
    ap.add_argument("--expiry", help="YYMMDD (default five years from today)")
    ap.add_argument("--sex", default="F")
    ap.add_argument("--forge", choices=FORGERIES)
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.out:
        ap.error("--out DIR (or --self-test)")
    portrait_path = args.portrait or os.path.join(FIXTURE_FACES, "obama__a.jpg")
    portrait = open(portrait_path, "rb").read() if os.path.exists(portrait_path) else TINY_JPEG
    pki = make_pki(args.pki or os.path.join(args.out, "pki"))
    info = make_passport(args.out, pki, portrait, args.surname, args.given, args.number, args.birth, args.sex, args.expiry, args.forge)
    print(json.dumps({k: v for k, v in info.items() if not isinstance(v, bytes)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
