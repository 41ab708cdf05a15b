#!/usr/bin/env bash
# Installs Apache httpd and mod_auth_openidc (Debian 12) for interop/oidc_mod_auth_openidc.py, and
# idpyoidc into /opt/peers-venv for interop/oidc_idpyoidc.py. Idempotent; needs root.
# Neither Apache nor its systemd unit is used: the interop script runs its own apache2 -X with a
# generated configuration on a free port.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s apache2 libapache2-mod-auth-openidc >/dev/null 2>&1; then
    apt-get install -y -q --no-install-recommends apache2 libapache2-mod-auth-openidc
fi
test -f /usr/lib/apache2/modules/mod_auth_openidc.so
if [ -x /opt/peers-venv/bin/pip ]; then
    /opt/peers-venv/bin/pip install -q --disable-pip-version-check idpyoidc
    /opt/peers-venv/bin/python -c 'import idpyoidc; print("idpyoidc", idpyoidc.__version__)'
fi
apache2 -v | head -1
dpkg-query -W -f='${Package} ${Version}\n' libapache2-mod-auth-openidc
