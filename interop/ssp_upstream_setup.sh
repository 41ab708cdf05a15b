#!/usr/bin/env bash
# SimpleSAMLphp 1.19 (Debian `simplesamlphp`) as an upstream SAML IdP for interop/saml_upstream.py,
# after /work/shared/interop/examples/ssp_idp_setup.sh: an isolated config dir (selected with
# SIMPLESAMLPHP_CONFIG_DIR), a self-signed IdP key, an exampleauth:UserPass source (users below:
# mail, givenName, sn, and `subject`, an address other than mail for a NameID), signed Response and
# Assertion (RSA-SHA256), NameID emailAddress from `mail`, signed AuthnRequests required
# (`validate.authnrequest`: the query signature over HTTP-Redirect, the enveloped one over
# HTTP-POST), SAML messages logged (`debug.saml`) to $W/log/simplesamlphp.log. SP metadata files
# dropped as $W/metadata/sp-NAME.xml are trusted (read on every request, through
# saml20-sp-remote.php); options for one SP (`assertion.encryption`, `nameid.encryption`,
# `saml20.sign.response`, an `authproc` ...) go in $W/metadata/sp-NAME.json beside it.
# Encryption, with an SP certificate: always AES-128-CBC content and RSA-OAEP-MGF1P key transport
# (simplesamlphp/saml2's EncryptedAssertion::setAssertion and Assertion::encryptNameId hard-code
# them; `sharedkey_algorithm` applies only to a pre-shared symmetric `sharedkey`).
# Usage: SSP_PORT=8081 ssp_upstream_setup.sh WORKDIR
#   then: SIMPLESAMLPHP_CONFIG_DIR=WORKDIR/config php -S 127.0.0.1:$SSP_PORT -t /usr/share/simplesamlphp/www
set -euo pipefail
W=${1:?usage: ssp_upstream_setup.sh WORKDIR}
PORT=${SSP_PORT:-8081}
mkdir -p "$W"/{config,metadata,cert,log,data,tmp}
[ -f "$W/cert/idp.key" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
    -subj "/CN=ssp-idp.localhost" -keyout "$W/cert/idp.key" -out "$W/cert/idp.crt" 2>/dev/null
chmod 644 "$W/cert/idp.key"

cat >"$W/config/config.php" <<PHP
<?php
\$config = [
    'baseurlpath' => 'http://127.0.0.1:$PORT/',
    'certdir' => '$W/cert/',
    'loggingdir' => '$W/log/',
    'datadir' => '$W/data/',
    'tempdir' => '$W/tmp',
    'metadatadir' => '$W/metadata/',
    'technicalcontact_name' => 'Administrator',
    'technicalcontact_email' => 'na@example.org',
    'secretsalt' => 'sigil-interop-salt-$(openssl rand -hex 8)',
    'auth.adminpassword' => '$(openssl rand -hex 8)',
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'timezone' => 'UTC',
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'enable.saml20-idp' => true,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'store.type' => 'phpsession',
    'language.default' => 'en',
    'debug' => ['saml' => true],
    'metadata.sources' => [['type' => 'flatfile']],
];
PHP

cat >"$W/config/authsources.php" <<'PHP'
<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'student:studentpass' => [
            'uid' => ['student'], 'mail' => ['student@example.org'], 'givenName' => ['Stu'], 'sn' => ['Dent'],
        ],
        'poster:posterpass' => [
            'uid' => ['poster'], 'mail' => ['poster@example.org'], 'givenName' => ['Paul'], 'sn' => ['Poster'],
        ],
        'cipher:cipherpass' => [
            'uid' => ['cipher'], 'mail' => ['cipher@example.org'], 'givenName' => ['Cy'], 'sn' => ['Pher'],
        ],
        'unsigned:unsignedpass' => [
            'uid' => ['unsigned'], 'mail' => ['unsigned@example.org'], 'givenName' => ['Una'], 'sn' => ['Signed'],
        ],
        'hidden:hiddenpass' => [
            'uid' => ['hidden'], 'mail' => ['hidden@example.org'], 'givenName' => ['Hid'], 'sn' => ['Den'],
            'subject' => ['h1dd3n.subject@idp.example.net'],
        ],
    ],
];
PHP

# Every sp-NAME.xml, with sp-NAME.json's options (if any) merged over what its metadata says.
cat >"$W/metadata/saml20-sp-remote.php" <<PHP
<?php
foreach (glob('$W/metadata/sp-*.xml') as \$file) {
    \$options = preg_replace('/\\.xml\$/', '.json', \$file);
    \$options = is_file(\$options) ? json_decode(file_get_contents(\$options), true) : [];
    foreach (\SimpleSAML\Metadata\SAMLParser::parseDescriptorsFile(\$file) as \$entityId => \$parser) {
        \$sp = \$parser->getMetadata20SP();
        if (\$sp !== null) {
            \$metadata[\$entityId] = array_merge(\$sp, \$options);
        }
    }
}
PHP

cat >"$W/metadata/saml20-idp-hosted.php" <<'PHP'
<?php
$metadata['__DYNAMIC:1__'] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'example-userpass',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'validate.authnrequest' => true,
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'mail',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'authproc' => [
        // the emailAddress NameID comes from `mail`
        10 => ['class' => 'saml:AttributeNameID', 'attribute' => 'mail',
               'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    ],
];
PHP
echo "SimpleSAMLphp IdP configured under $W; metadata: http://127.0.0.1:$PORT/saml2/idp/metadata.php"
