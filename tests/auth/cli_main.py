"""Stand-in for the engine's main parser until the lead mounts `add_auth_subcommands` in proxy_engine.cli."""

from __future__ import annotations

import argparse
import sys

from proxy_engine.auth.cli import add_auth_subcommands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proxypal-engine")
    sub = parser.add_subparsers(dest="command", required=True)
    add_auth_subcommands(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
