"""``transferlab view``: a local web viewer of a store, base and tuned side by side.

    transferlab view --store runs.db [--drift drift/] [--port 8765] [--host 127.0.0.1] [--base A --tuned B]

Serves the pages of :mod:`transferlab.view` with uvicorn, read-only on the store, bound to
127.0.0.1 unless ``--host`` says otherwise, and prints its URL. ``--port 0`` picks a free port.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any

from transferlab.errors import ConfigError, missing_extra

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); one clear error when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror}", "choose another --port (0 picks a free one) or --host") from err
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def cmd_view(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from transferlab.view.app import create_app
    except ImportError as err:
        raise missing_extra(err.name or "starlette", "view") from err
    if args.drift and not Path(args.drift).is_dir():
        raise ConfigError(f"no drift folder {args.drift}", "point --drift at the --out folder of `transferlab drift tokens`")
    if (args.base is None) != (args.tuned is None):
        raise ConfigError("--base and --tuned go together", "name both models of the pair, or neither")
    pair = (args.base, args.tuned) if args.base and args.tuned else None
    app = create_app(args.store, drift=args.drift, host=args.host, n_resamples=args.resamples, pair=pair)
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"transferlab view: serving {args.store} read-only at http://{shown}:{port}/ (Ctrl-C to stop)", flush=True)
    if args.host not in LOOPBACK:
        print(f"transferlab view: warning: bound to {args.host}: anyone who can reach this machine can read the store", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def register(subparsers: Any) -> None:
    """Add the ``view`` command."""
    p = subparsers.add_parser("view", help="browse a store's samples in a local web viewer (read-only)")
    p.add_argument("--store", required=True, help="the store to read (opened read-only)")
    p.add_argument("--drift", default=None, help="a `transferlab drift tokens` --out folder: colour tuned answers by base rank")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--base", default=None, help="with --tuned: a pair to compare (group summary, TI, forgot/learned) in a store without a study")
    p.add_argument("--tuned", default=None, help="the tuned model of that pair (study name, key or name, as `report`)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples of the overview's intervals (default 2000)")
    p.set_defaults(func=cmd_view)
