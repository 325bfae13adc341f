# relaybox %pre: the system user and group exist before the files, so that rpm can give
# /etc/relaybox/upstream.secret and /var/lib/relaybox their group and owner at install.
getent group relaybox >/dev/null || groupadd -r relaybox
getent passwd relaybox >/dev/null || \
    useradd -r -g relaybox -d /var/lib/relaybox -M -s /sbin/nologin -c "relaybox mail relay" relaybox
# The operator group: owns the control socket and grants nothing else (README "Two groups").
# The relaybox user joins it to give its socket that group. Created for the first time, it takes
# over the operators that older versions put in the service group relaybox, which reads the
# secrets and the queue.
if ! getent group relaybox-ctl >/dev/null; then
    groupadd -r relaybox-ctl
    for member in $(getent group relaybox | cut -d: -f4 | tr ',' ' '); do
        [ "$member" = relaybox ] && continue
        usermod -a -G relaybox-ctl "$member"
        gpasswd -d "$member" relaybox >/dev/null
        echo "relaybox: moved $member from group relaybox (secrets, queue) to relaybox-ctl (control socket only)"
    done
fi
usermod -a -G relaybox-ctl relaybox
exit 0
