"""`pipedrive-sandbox --port PORT --api-token TOKEN [...]`: a local server that behaves like Pipedrive."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from .config import BURST_LIMITS
from .server import SandboxOptions, SandboxServer


def _user_token(text: str) -> tuple[str, str]:
    email, sep, token = text.partition("=")
    if not sep or not email or not token:
        raise argparse.ArgumentTypeError("expected EMAIL=TOKEN")
    return email, token


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("expected a probability between 0 and 1")
    return value


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipedrive-sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--api-token", required=True, help="token of the admin user")
    parser.add_argument("--plan", choices=list(BURST_LIMITS), default="lite")
    parser.add_argument("--seats", type=int, default=3)
    parser.add_argument("--users", default="3", help="number of users, or a JSON file of [{name, email, role}]")
    parser.add_argument("--user-token", type=_user_token, action="append", default=[], metavar="EMAIL=TOKEN",
                        help="a token for the user with this email (created as a regular user if missing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fixture", default="empty",
                        help="empty, in-use, a JSON file of records, or an account snapshot (a twin of that account)")
    parser.add_argument("--db", default=None, help="SQLite file (state survives a restart); default a temp file")
    parser.add_argument("--time-scale", type=float, default=1.0, help="10: the 2 s window lasts 0.2 s")
    parser.add_argument("--daily-budget", type=int, default=None, help="override 30,000 x plan x seats")
    parser.add_argument("--fault-5xx", type=_probability, default=0.0)
    parser.add_argument("--fault-429", type=_probability, default=0.0)
    parser.add_argument("--fault-drop", type=_probability, default=0.0)
    parser.add_argument("--fault-stall", type=_probability, default=0.0)
    parser.add_argument("--stall-seconds", type=float, default=5.0)
    parser.add_argument("--spec-dir", default=None, help="folder with v1.yaml and v2.yaml (default ../shared)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.umask(0o077)  # a twin's --db holds the customer's users and contacts: private to this user
    try:
        server = SandboxServer(SandboxOptions(
            api_token=args.api_token, port=args.port, plan=args.plan, seats=args.seats, users=args.users,
            seed=args.seed, fixture=args.fixture, db=args.db, time_scale=args.time_scale,
            daily_budget=args.daily_budget, fault_5xx=args.fault_5xx, fault_429=args.fault_429,
            fault_drop=args.fault_drop, fault_stall=args.fault_stall, stall_seconds=args.stall_seconds,
            user_tokens=dict(args.user_token), spec_dir=args.spec_dir))
    except (ValueError, OSError) as exc:
        print(f"pipedrive-sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        signal.signal(signal.SIGTERM, _interrupt)
        server.start()
        print(f"pipedrive-sandbox listening on {server.base_url}", flush=True)
        while server.thread.is_alive():
            server.thread.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
