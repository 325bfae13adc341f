# relaybox %post ($1 = number of relaybox packages after this transaction: 1 on install).
# sendmail and mailq go through alternatives, as Fedora/EL MTAs (postfix, exim) share them.
alternatives --install /usr/sbin/sendmail mta /usr/sbin/sendmail.relaybox 30 \
    --slave /usr/bin/mailq mta-mailq /usr/bin/mailq.relaybox \
    --slave /usr/lib/sendmail mta-sendmail /usr/sbin/sendmail.relaybox || :
# Like %systemd_post: the distribution's preset decides whether the unit is enabled. It is not
# started: the shipped relaybox.conf names no upstream and the daemon would refuse to start.
if [ "$1" -eq 1 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload preset relaybox.service >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    echo "relaybox: edit /etc/relaybox/relaybox.conf and /etc/relaybox/upstream.secret," \
         "then run: systemctl enable --now relaybox"
fi
exit 0
