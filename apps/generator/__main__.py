"""`python -m apps.generator`: the supervised generator process (and `invoke generate`)."""

import argparse
import sys
from pathlib import Path

from apps.generator.run import DEFAULT_PRODUCTS, DEFAULT_USERS, run
from apps.generator.sender import SESSIONS_IN_FLIGHT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.generator", description=__doc__)
    parser.add_argument("--rate", type=int, default=5, help="purchases per second")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds to run (default: until stopped)")
    parser.add_argument("--seed", type=int, default=None, help="same seed, same records")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS)
    parser.add_argument("--api-url", default=None, help="default: API_URL from .env")
    parser.add_argument("--sessions", type=int, default=SESSIONS_IN_FLIGHT,
                        help="sessions in flight at once")
    parser.add_argument("--progress-file", type=Path, default=None,
                        help="record the figures `invoke status` shows here every few seconds")
    args = parser.parse_args(argv)
    summary = run(args.rate, args.duration, args.seed, args.users, args.products, args.api_url,
                  sessions=args.sessions, progress_file=args.progress_file)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
