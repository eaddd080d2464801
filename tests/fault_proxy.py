"""A small HTTP proxy that injects faults between a client and a real server (for the tests).

    python tests/fault_proxy.py --port 0 --upstream http://127.0.0.1:8000 --drop 0.1 --error 0.1 ...

Per request, at random (seeded): drop the connection before forwarding, forward and then drop the
connection instead of answering (the server did the work, the client never sees it), delay the
answer, or answer 500 or 429 (with ``Retry-After: 0``) without forwarding. Everything else is
forwarded as is. Prints ``PORT <n>`` once listening, and a count of each fault on exit;
``GET /__faults`` answers the counts so far as JSON, with ``in_delay``: answers being held back now.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
from collections import Counter

from aiohttp import ClientSession, ClientTimeout, web


def build_app(upstream: str, rates: dict[str, float], delay: float, seed: int, counts: Counter[str], *, each_first: bool = False) -> web.Application:
    """The proxy application; ``rates`` maps drop, drop_after, error, throttle, delay to probabilities.

    ``each_first``: the first requests get each fault whose rate is not zero once, in random
    order, so a short test sees every kind; then faults are drawn at random.
    """
    rng = random.Random(seed)
    scheduled = [name for name, p in rates.items() if p > 0] if each_first else []
    rng.shuffle(scheduled)
    app = web.Application()

    async def start(app: web.Application) -> None:
        app["session"] = ClientSession(timeout=ClientTimeout(total=None))

    async def stop(app: web.Application) -> None:
        await app["session"].close()

    def drop(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    async def stats(request: web.Request) -> web.StreamResponse:
        return web.json_response(dict(counts))

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        r = rng.random()
        forced = scheduled.pop() if scheduled else None
        edges = [
            ("drop", rates["drop"]),
            ("error", rates["error"]),
            ("throttle", rates["throttle"]),
            ("drop_after", rates["drop_after"]),
            ("delay", rates["delay"]),
        ]
        fault, acc = "pass", 0.0
        for name, p in edges:
            acc += p
            if r < acc:
                fault = name
                break
        fault = forced or fault
        counts[fault] += 1
        if fault == "drop":
            return drop(request)
        if fault == "error":
            return web.Response(status=500, text="injected fault")
        if fault == "throttle":
            return web.Response(status=429, text="injected throttle", headers={"Retry-After": "0"})
        if fault == "delay":
            counts["in_delay"] += 1
            try:
                await asyncio.sleep(delay)
            finally:
                counts["in_delay"] -= 1
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "authorization")}
        async with app["session"].request(request.method, upstream + request.path_qs, data=body, headers=headers) as resp:
            payload = await resp.read()
            if fault == "drop_after":
                return drop(request)
            return web.Response(status=resp.status, body=payload, content_type=resp.content_type)

    app.router.add_get("/__faults", stats)
    app.router.add_route("*", "/{tail:.*}", handle)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


async def serve(args: argparse.Namespace) -> None:
    counts: Counter[str] = Counter()
    rates = {"drop": args.drop, "drop_after": args.drop_after, "error": args.error, "throttle": args.throttle, "delay": args.delay_rate}
    runner = web.AppRunner(build_app(args.upstream.rstrip("/"), rates, args.delay, args.seed, counts, each_first=args.each_first), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    print("FAULTS " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())), flush=True)
    os._exit(0)  # answers still held back would delay a clean shutdown


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="the real server, e.g. http://127.0.0.1:8000")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    p.add_argument("--drop", type=float, default=0.0, help="P(drop the connection before forwarding)")
    p.add_argument("--drop-after", type=float, default=0.0, help="P(forward, then drop instead of answering)")
    p.add_argument("--error", type=float, default=0.0, help="P(answer 500)")
    p.add_argument("--throttle", type=float, default=0.0, help="P(answer 429 with Retry-After: 0)")
    p.add_argument("--delay-rate", type=float, default=0.0, help="P(delay the answer by --delay seconds)")
    p.add_argument("--delay", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--each-first", action="store_true", help="give the first requests each enabled fault once")
    asyncio.run(serve(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
