#!/usr/bin/env bash
# SimpleSAMLphp 1.19 (Debian `simplesamlphp`) as an upstream SAML IdP for interop/saml_upstream.py,
# after /work/shared/interop/examples/ssp_idp_setup.sh: an isolated config dir (selected with
# SIMPLESAMLPHP_CONFIG_DIR), a self-signed IdP key, an exampleauth:UserPass source with one user
# (student / studentpass: mail, givenName, sn), signed Response and Assertion (RSA-SHA256), NameID
# emailAddress from `mail`, signed AuthnRequests required. SP metadata files dropped as
# $W/metadata/sp-*.xml are trusted (read on every request).
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
    'metadata.sources' => array_merge(
        [['type' => 'flatfile']],
        array_map(function (\$f) { return ['type' => 'xml', 'file' => \$f]; }, glob('$W/metadata/sp-*.xml'))
    ),
];
PHP

cat >"$W/config/authsources.php" <<'PHP'
<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
        'student:studentpass' => [
            'uid' => ['student'],
            'mail' => ['student@example.org'],
            'givenName' => ['Stu'],
            'sn' => ['Dent'],
        ],
    ],
];
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
