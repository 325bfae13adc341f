# relaybox %pre: the system user and group exist before the files, so that rpm can give
# /etc/relaybox/upstream.secret and /var/lib/relaybox their group and owner at install.
getent group relaybox >/dev/null || groupadd -r relaybox
getent passwd relaybox >/dev/null || \
    useradd -r -g relaybox -d /var/lib/relaybox -M -s /sbin/nologin -c "relaybox mail relay" relaybox
exit 0
