# relaybox %preun ($1 = 0 on erase, 1 on upgrade): on erase, stop the daemon (SIGTERM lets it
# finish open transactions and commit the queue) and give sendmail back to other MTAs.
if [ "$1" -eq 0 ]; then
    if [ -d /run/systemd/system ]; then
        systemctl --no-reload disable --now relaybox.service >/dev/null 2>&1 || :
    fi
    alternatives --remove mta /usr/sbin/sendmail.relaybox || :
fi
exit 0
