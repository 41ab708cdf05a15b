#!/usr/bin/env bash
# Installs the third-party clients the interop suites drive (Debian 12 + PyPI only). Idempotent.
#   chromium + chromium-driver  : headless browser with the WebAuthn virtual authenticator
#   zbar-tools, librsvg2-bin,   : zbarimg (reference QR decoder), rsvg-convert (rasterises our SVG codes),
#   qrencode                      qrencode (a second encoder whose codes our decoder must read)
#   /opt/peers-venv             : selenium, requests, cryptography, authlib and idpyoidc (the OIDC relying parties;
#                                 idpyoidc's OP role is also the upstream OpenID Provider of scripts/interop-oidc-upstream.sh),
#                                 pysaml2 (the SAML SP of scripts/interop-saml.sh); Debian's python packages
#                                 serve /usr/bin/python3 only
#                                 python3-saml (OneLogin's toolkit, the second SAML SP; scripts/interop-saml.sh)
#                                 schemathesis (the admin API against its OpenAPI document; scripts/check-admin-api.sh)
#                                 openapi-core, PyYAML (the Auth0 and Okta fakes validate every exchange against the
#                                 vendors' OpenAPI documents; interop/vendor_openapi.py, scripts/check-vendor-fakes.sh)
#                                 standardwebhooks (the Standard Webhooks reference library: verifies every message
#                                 Sigil's outbound webhooks send; interop/webhook_receiver.py, scripts/interop-webhooks.sh)
#                                 http-message-signatures (pyauth's RFC 9421 HTTP Message Signatures: the flow builder signs
#                                 the inbound hooks it posts to Sigil with it; interop/flow_builder.py, scripts/interop-connectors.sh)
#                                 axe-selenium-python 2.1.6 (ships axe-core's axe.min.js: the accessibility scan of every
#                                 AdminX page; interop/adminx.py, scripts/interop-adminx.sh)
#   xmlsec1                     : pysaml2 verifies signatures and decrypts assertions with it
#   openssl                     : interop/idv_passport.py makes the synthetic ePassport PKI and signs EF.SOD with it
#                                 (zbarimg and rsvg-convert also read the IDV hand-off QR code, interop/idv_e2e.py)
#   simplesamlphp, php-cli,     : SimpleSAMLphp 1.19, the second upstream SAML IdP of scripts/interop-saml-upstream.sh
#   php-xml, php-mbstring,        (Debian's package does not pull php-xml; without it every page fails with
#   php-curl                      `Class "DOMDocument" not found`); served by `php -S`, no Apache needed
#   lxml, xmlsec (pip)          : interop/saml_acs_attacks.py crafts and signs the attack responses with them
#   libxmlsec1-dev, pkg-config, : python3-saml needs the `xmlsec` binding; PyPI has wheels for it (with their
#   libxml2-dev, python3-dev,     own libxmlsec1 and libxml2, matching lxml's wheel), and these let pip build it
#   gcc                           from source where no wheel fits
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium chromium-driver zbar-tools librsvg2-bin qrencode fonts-dejavu-core xmlsec1 openssl \
    libxmlsec1-dev libxml2-dev pkg-config python3-dev gcc \
    simplesamlphp php-cli php-xml php-mbstring php-curl
if [ ! -x /opt/peers-venv/bin/python ]; then
    python3 -m venv /opt/peers-venv
fi
/opt/peers-venv/bin/pip install -q --disable-pip-version-check selenium requests cryptography authlib idpyoidc pysaml2 python3-saml lxml xmlsec schemathesis \
    openapi-core pyyaml standardwebhooks http-message-signatures axe-selenium-python==2.1.6
/opt/peers-venv/bin/python -c 'import selenium, requests, cryptography, authlib, idpyoidc, saml2, openapi_core, yaml, standardwebhooks, http_message_signatures, axe_selenium_python; print("selenium", selenium.__version__, "authlib", authlib.__version__, "standardwebhooks", standardwebhooks.__version__)'
# python3-saml refuses to run when lxml and xmlsec were built against different libxml2 versions.
/opt/peers-venv/bin/python -c 'import xmlsec, lxml.etree as e; from onelogin.saml2.auth import OneLogin_Saml2_Auth
assert xmlsec.get_libxml_version() == e.LIBXML_VERSION[:3], (xmlsec.get_libxml_version(), e.LIBXML_VERSION)
print("python3-saml ready: libxmlsec1", xmlsec.get_libxmlsec_version(), "libxml2", xmlsec.get_libxml_version())'
chromium --version
