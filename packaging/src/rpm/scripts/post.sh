# relaybox %post ($1 = number of relaybox packages after this transaction: 1 on install).
# sendmail and mailq go through alternatives, as Fedora/EL MTAs (postfix, exim) share them.
alternatives --install /usr/sbin/sendmail mta /usr/sbin/sendmail.relaybox 30 \
    --slave /usr/bin/mailq mta-mailq /usr/bin/mailq.relaybox \
    --slave /usr/lib/sendmail mta-sendmail /usr/sbin/sendmail.relaybox || :
# The drop directory for sendmail while the daemon is down (see the .deb's postinst): anyone may
# add a file, only relaybox may list, read or remove them; new files get the group relaybox.
if [ ! -d /var/spool/relaybox/maildrop ]; then
    install -d -o root -g root -m 0755 /var/spool/relaybox
    install -d -o relaybox -g relaybox -m 3733 /var/spool/relaybox/maildrop
    install -d -o relaybox -g relaybox -m 0700 /var/spool/relaybox/maildrop/.taken /var/spool/relaybox/maildrop/.bad
fi
# The queue's store and spool are the relaybox user's alone (0700/0600); older versions left
# them group-readable. Only modes change; symlinks are never followed.
for path in /var/lib/relaybox/spool /var/lib/relaybox/outbox; do
    if [ -d "$path" ] && [ ! -L "$path" ]; then
        find "$path" -xdev ! -type l -exec chmod go-rwx {} + || :
    fi
done
find /var/lib/relaybox -maxdepth 1 -name 'queue.db*' -type f -exec chmod go-rwx {} + || :
# The class-data archive the short-lived commands (sendmail above all) start from, for the
# installed jars and JVM (README "sendmail start-up"); only a speed-up, so never a failure here.
# After a JDK update, run /usr/share/relaybox/make-cli-archive again (until then the JVM ignores
# the stale archive and the commands start without it).
/usr/share/relaybox/make-cli-archive || :
# Like %systemd_post: the distribution's preset decides whether the unit is enabled, and it is
# not started here (Fedora/EL packages never start services from %post).
if [ "$1" -eq 1 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload preset relaybox.service >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    echo "relaybox: set your ESP in /etc/relaybox/relaybox.conf and /etc/relaybox/upstream.secret" \
         "(until then mail goes to the outbox, /var/lib/relaybox/outbox)," \
         "then run: systemctl enable --now relaybox"
fi
exit 0
