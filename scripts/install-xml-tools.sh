#!/usr/bin/env bash
# Installs the reference tools of the SigilXML differential tests: xmllint (libxml2-utils) for
# canonical XML, xmlsec1 for XML-DSig. Debian packages only. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v xmllint >/dev/null 2>&1 || ! command -v xmlsec1 >/dev/null 2>&1; then
    apt-get install -y -q --no-install-recommends xmlsec1 libxml2-utils \
        || { apt-get update -q && apt-get install -y -q --no-install-recommends xmlsec1 libxml2-utils; }
fi
xmllint --version 2>&1 | sed -n 1p || true
xmlsec1 --version
