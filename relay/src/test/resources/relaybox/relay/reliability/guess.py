# Password guessing over STARTTLS from many addresses: ATTEMPTS wrong AUTH PLAIN tries per source
# address, one connection per try, THREADS at a time. Prints one line of counts at the end.
# Usage: guess.py HOST PORT ATTEMPTS THREADS SOURCE[,SOURCE...]
import base64, json, smtplib, ssl, sys, threading, time
from concurrent.futures import ThreadPoolExecutor

host, port, attempts, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sources = sys.argv[5].split(",")
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
counts = {}
lock = threading.Lock()


def count(key):
    with lock:
        counts[key] = counts.get(key, 0) + 1


def one(src, n):
    try:
        s = smtplib.SMTP(host, port, source_address=(src, 0), timeout=30)
        s.ehlo("guess.test")
        s.starttls(context=ctx)
        s.ehlo("guess.test")
        plain = base64.b64encode(("\0user\0guess-%s-%d" % (src, n)).encode()).decode()
        try:
            code, _ = s.docmd("AUTH", "PLAIN " + plain)
            count(str(code))
        except smtplib.SMTPServerDisconnected:
            count("disconnected")
        try:
            s.quit()
        except Exception:
            pass
    except Exception as e:
        count("error " + type(e).__name__)


t0 = time.monotonic()
with ThreadPoolExecutor(threads) as pool:
    for n in range(attempts):
        for src in sources:
            pool.submit(one, src, n)
counts["seconds"] = round(time.monotonic() - t0, 1)
print("guess " + json.dumps(counts, sort_keys=True), flush=True)
