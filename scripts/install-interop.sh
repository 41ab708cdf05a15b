#!/usr/bin/env bash
# Installs the third-party clients the interop suites drive (Debian 12 + PyPI only). Idempotent.
#   chromium + chromium-driver  : headless browser with the WebAuthn virtual authenticator
#   zbar-tools, librsvg2-bin,   : zbarimg (reference QR decoder), rsvg-convert (rasterises our SVG codes),
#   qrencode                      qrencode (a second encoder whose codes our decoder must read)
#   /opt/peers-venv             : selenium, requests, cryptography, authlib and idpyoidc (the OIDC relying parties),
#                                 pysaml2 (the SAML SP of scripts/interop-saml.sh); Debian's python packages
#                                 serve /usr/bin/python3 only
#   xmlsec1                     : pysaml2 verifies signatures with it
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium chromium-driver zbar-tools librsvg2-bin qrencode fonts-dejavu-core xmlsec1 openssl
if [ ! -x /opt/peers-venv/bin/python ]; then
    python3 -m venv /opt/peers-venv
fi
/opt/peers-venv/bin/pip install -q --disable-pip-version-check selenium requests cryptography authlib idpyoidc pysaml2
/opt/peers-venv/bin/python -c 'import selenium, requests, cryptography, authlib, idpyoidc, saml2; print("selenium", selenium.__version__, "authlib", authlib.__version__)'
chromium --version
