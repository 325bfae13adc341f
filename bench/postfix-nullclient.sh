#!/usr/bin/env bash
# Configures and starts Debian's Postfix as a null client for side-by-side benchmarks:
# SMTP on 127.0.0.1:$1, everything relayed to relayhost [127.0.0.1]:$2, queue in /var/spool/postfix.
# Usage: postfix-nullclient.sh SMTP_PORT RELAY_PORT   (as root; stops any running Postfix first)
set -euo pipefail
smtp_port=$1 relay_port=$2
command -v postconf >/dev/null || { echo "postfix is not installed (apt-get install postfix)" >&2; exit 1; }
postfix stop >/dev/null 2>&1 || true
# Debian's "No configuration" install leaves no main.cf.
[ -f /etc/postfix/main.cf ] || cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
[ -f /etc/postfix/master.cf ] || cp /usr/share/postfix/master.cf.dist /etc/postfix/master.cf
postconf -e \
  "myhostname=bench.localdomain" "mydestination=" "local_transport=error:local delivery disabled" \
  "inet_interfaces=loopback-only" "inet_protocols=ipv4" "mynetworks=127.0.0.0/8" \
  "relayhost=[127.0.0.1]:$relay_port" "smtp_tls_security_level=none" "smtpd_tls_security_level=none" \
  "message_size_limit=104857600" "default_process_limit=100" "compatibility_level=3.6" \
  "maillog_file=/var/log/postfix-bench.log" "smtp_destination_concurrency_limit=20" \
  "default_destination_concurrency_limit=20" "minimal_backoff_time=10s" "maximal_backoff_time=60s" \
  "queue_run_delay=10s" "smtpd_client_connection_rate_limit=0" "anvil_rate_time_unit=60s"
# Listen on the benchmark port instead of 25.
postconf -M "smtp/inet=$smtp_port inet n - y - - smtpd" 2>/dev/null || true
postconf -MX smtp/inet 2>/dev/null || true
postconf -M "$smtp_port/inet=$smtp_port inet n - y - - smtpd"
newaliases 2>/dev/null || true
postfix start >/dev/null 2>&1 || postfix reload >/dev/null
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/"$smtp_port") 2>/dev/null && exit 0
  sleep 0.2
done
echo "postfix did not start listening on $smtp_port" >&2
exit 1
