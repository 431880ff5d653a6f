"""practicehub-sandbox: serve a PracticeHub-like API on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys

from .data import DatasetError, load_dataset
from .runner import WaitressServer
from .server import make_app
from .settings import RATE_SCOPES, SandboxSettings, SettingsError


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="practicehub-sandbox",
        description="A local HTTP server that behaves like the PracticeHub API (binds 127.0.0.1 only).",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one; default 0)")
    parser.add_argument("--dataset", default="demo", help="tiny, demo, clinic-50k, or a FILE.json (default demo)")
    parser.add_argument("--api-keys", required=True, help="comma-separated API keys the server accepts")
    parser.add_argument("--rate", type=float, default=1.0, help="requests per second (default 1.0)")
    parser.add_argument("--burst", type=int, default=1, help="token bucket size (default 1)")
    parser.add_argument("--rate-scope", choices=RATE_SCOPES, default="account",
                        help="one bucket for the account or one per key (default account)")
    parser.add_argument("--retry-after", action=argparse.BooleanOptionalAction, default=True,
                        help="send Retry-After on 429 (default on)")
    parser.add_argument("--unstable-paging", type=_fraction, default=0.0,
                        help="fraction of pages that repeat rows from a neighbouring page (default 0)")
    parser.add_argument("--fault-5xx", type=_fraction, default=0.0, help="fraction of requests answered 5xx")
    parser.add_argument("--fault-drop", type=_fraction, default=0.0,
                        help="fraction of requests whose connection is closed without a response")
    parser.add_argument("--fault-slow", type=_fraction, default=0.0, help="fraction of requests answered slowly")
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a slow answer (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the data and the faults (default 0)")
    parser.add_argument("--url-ttl", type=int, default=900, help="signed attachment URL lifetime in seconds")
    parser.add_argument("--timezone", default="UTC", help="account time zone of created/updated (default UTC)")
    parser.add_argument("--app-name", default=None,
                        help="when set, x-app-details must start with this app name (default: any name)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = SandboxSettings(
            api_keys=tuple(k.strip() for k in args.api_keys.split(",") if k.strip()),
            rate=args.rate, burst=args.burst, rate_scope=args.rate_scope, retry_after=args.retry_after,
            unstable_paging=args.unstable_paging, fault_5xx=args.fault_5xx, fault_drop=args.fault_drop,
            fault_slow=args.fault_slow, slow_seconds=args.slow_seconds, seed=args.seed, url_ttl=args.url_ttl,
            timezone=args.timezone, app_name=args.app_name,
        )
        dataset = load_dataset(args.dataset, args.seed)
        server = WaitressServer(make_app(dataset, settings), port=args.port, threads=max(8, args.threads))
    except (SettingsError, DatasetError) as exc:
        parser.exit(2, f"practicehub-sandbox: error: {exc}\n")
    except OSError as exc:
        parser.exit(1, f"practicehub-sandbox: error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}\n")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"practicehub-sandbox listening on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
