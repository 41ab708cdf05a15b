#!/usr/bin/env bash
# Regenerates the expected canonical forms of the SigilXML c14n vectors with libxml2's xmllint.
# For each Tests/SigilXMLTests/Vectors/c14n/NAME.xml it writes NAME.exc-c14n (xmllint --exc-c14n)
# and NAME.c14n (xmllint --c14n); xmllint's canonical output keeps comments. The test suite
# compares SigilXML's output with these files, and re-runs xmllint to check they are current.
set -euo pipefail
cd "$(dirname "$0")/../Tests/SigilXMLTests/Vectors/c14n"
xmllint --version 2>&1 | sed -n 1p || true
for f in *.xml; do
    name="${f%.xml}"
    xmllint --exc-c14n "$f" > "$name.exc-c14n"
    xmllint --c14n "$f" > "$name.c14n"
done
echo "regenerated $(ls *.xml | wc -l) vectors"
