# relaybox %postun ($1 = 0 on erase, 1 on upgrade): restart a running daemon on the new version.
# The queue in /var/lib/relaybox is left in place when it holds mail (rpm removes only an
# empty directory); delete it by hand to drop queued mail.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart relaybox.service >/dev/null 2>&1 || :
    fi
fi
# On erase, the class-data archives %post wrote (make-cli-archive went with the package).
if [ "$1" -eq 0 ]; then
    rm -f /var/cache/relaybox/cli.jsa /var/cache/relaybox/cli.jsa.tmp.* \
          /var/cache/relaybox/cli-commands.jsa /var/cache/relaybox/cli-commands.jsa.tmp.*
    # and the daemon's own (written by the JVM at a clean stop, in the unit's CacheDirectory).
    rm -f /var/cache/relaybox/daemon/daemon.jsa
    rmdir /var/cache/relaybox/daemon 2>/dev/null || :
    rmdir /var/cache/relaybox 2>/dev/null || :
fi
exit 0
