"""Stand-in for the engine's main parser until the lead mounts `add_login_subcommands` in proxy_engine.cli."""

from __future__ import annotations

import argparse
import sys

from proxy_engine.logins.cli import add_login_subcommands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proxypal-engine")
    sub = parser.add_subparsers(dest="command", required=True)
    add_login_subcommands(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
