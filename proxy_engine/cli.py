"""`proxypal-engine`: serve, check-config, doctor, tail, stop, quota, keys, capture, replay, export, version, auth."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

from proxy_engine import __version__
from proxy_engine.config import ConfigError, load_config
from proxy_engine.config_warnings import config_warnings
from proxy_engine.heap import resume_collection
from proxy_engine.paths import resolve_paths
from proxy_engine.recorder.cli import COMMANDS as CAPTURE_COMMANDS
from proxy_engine.recorder.cli import add_capture_subcommands


def _check_config(args: argparse.Namespace) -> int:
    path = resolve_paths(args.path or args.config).config_file
    if not path.exists():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    try:
        loaded = load_config(path)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 1
    for warning in config_warnings(loaded.config):
        print(f"{path}: warning: {warning}", file=sys.stderr)
    print(f"{path}: ok")
    return 0


def _tail(args: argparse.Namespace) -> int:
    paths = resolve_paths(args.config)
    sock_path = args.socket
    if not sock_path:
        try:
            cfg = load_config(paths.config_file).config
        except ConfigError as e:
            print(e, file=sys.stderr)
            return 2
        sock_path = cfg.events.socket or str(paths.events_socket(cfg.port))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock_path)
    except OSError as e:
        print(f"cannot connect to {sock_path}: {e.strerror} (is the engine running?)", file=sys.stderr)
        return 1
    if args.team:  # team mode: every replica's events, each tagged `replica`
        s.sendall(b'{"team": true}\n')
    try:
        for line in s.makefile("rb"):
            if args.json:
                sys.stdout.write(line.decode())
            else:
                ev = json.loads(line)
                rest = {k: v for k, v in ev.items() if k not in ("v", "type", "ts", "snapshot")}
                print(f"{ev['type']:<18} {json.dumps(rest, separators=(',', ':'))[:300]}")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 0
    return 0


def _stop(args: argparse.Namespace) -> int:
    from proxy_engine.stop import stop_engine

    return stop_engine(args)


def _quota(args: argparse.Namespace) -> int:
    from proxy_engine.quota.report import run_quota_command

    return run_quota_command(args)


def _doctor(args: argparse.Namespace) -> int:
    from proxy_engine.doctor.run import doctor_main

    return doctor_main(args)


def _serve(args: argparse.Namespace) -> int:
    from proxy_engine.server import serve

    paths = resolve_paths(args.config)
    if args.workers is None:  # the TUI's engine runs with workers when PROXYPAL_WORKERS says so
        try:
            args.workers = int(os.environ.get("PROXYPAL_WORKERS") or 1)
        except ValueError:
            args.workers = 0
    if args.workers < 1:
        print("proxypal-engine: --workers (or PROXYPAL_WORKERS) must be a whole number, at least 1", file=sys.stderr)
        return 2
    if args.worker_index is not None:
        from proxy_engine.workers.role import WorkerRole

        worker = WorkerRole(args.worker_index, args.exit_with_parent or os.getppid(), args.fan_in, args.spend_file)
        run = lambda: serve(paths, args.host, args.port, worker)  # noqa: E731
    elif args.workers > 1:
        from proxy_engine.workers.supervisor import serve_workers

        resume_collection()  # the supervisor never freezes a start-up heap of its own: it collects as usual
        run = lambda: serve_workers(paths, args.host, args.port, args.workers)  # noqa: E731
    else:
        run = lambda: serve(paths, args.host, args.port)  # noqa: E731
    if args.exit_with_parent is None:
        return run()
    from proxy_engine.watchdog import ParentWatch

    watch = ParentWatch(args.exit_with_parent, paths.runtime_dir).start()
    try:
        return run()
    finally:
        watch.stop()


_OWN_COMMANDS = frozenset({"serve", "check-config", "tail", "version", "quota", "doctor", "keys"}) | CAPTURE_COMMANDS


def _needs_login_commands(argv: list[str]) -> bool:
    """False when the command is one of ours: the login commands import the OAuth flows (httpx, authlib,
    cryptography), a third of `serve`'s start-up time and ~20 MiB it would otherwise keep for nothing."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--config":
            i += 2
        elif arg.startswith("--config="):
            i += 1
        else:
            return arg.startswith("-") or arg not in _OWN_COMMANDS  # --help lists every command
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proxypal-engine", description="ProxyPal gateway engine")
    parser.add_argument("--config", type=Path, default=None, help="config file (default: PROXYPAL_CONFIG or user dir)")
    sub = parser.add_subparsers(dest="command", required=True)
    # `--config` works before or after the subcommand (`serve --config PATH`, as the TUI runs it).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="config file")
    p = sub.add_parser("serve", help="run the proxy", parents=[common])
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument(
        "--exit-with-parent",
        type=int,
        default=None,
        metavar="PID",
        help="shut down gracefully when process PID exits (the TUI passes its own pid)",
    )
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="N worker processes on one port (SO_REUSEPORT), supervised by this one "
                        "(default: PROXYPAL_WORKERS, else 1)")  # fmt: skip
    # Set by the supervisor on the workers it starts; not for people.
    p.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--fan-in", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--spend-file", type=Path, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=_serve)
    p = sub.add_parser(
        "check-config", help="validate a config file; exit non-zero with file:line: reason", parents=[common]
    )
    p.add_argument("path", nargs="?", type=Path, default=None)
    p.set_defaults(handler=_check_config)
    p = sub.add_parser("tail", help="print the engine's events", parents=[common])
    p.add_argument("--json", action="store_true", help="raw JSON lines")
    p.add_argument("--socket", default=None, help="events socket path (default: from the config)")
    p.add_argument("--team", action="store_true", help="team mode: the events of every replica, not just this one")
    p.set_defaults(handler=_tail)
    p = sub.add_parser("stop", help="stop the engine running with this config (gracefully)", parents=[common])
    p.set_defaults(handler=_stop)
    p = sub.add_parser("quota", help="each credential's quota windows (from the running engine, else its file)",
                       parents=[common])  # fmt: skip
    p.add_argument("--json", action="store_true", help="the /v0/quota JSON")
    p.set_defaults(handler=_quota)
    add_capture_subcommands(sub, common)
    p = sub.add_parser("doctor", help="check config, secrets, providers, credentials, port, tools and clock; "
                       "exit 1 if something needs attention", parents=[common])  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object for scripts")
    p.set_defaults(handler=_doctor)
    from proxy_engine.members.cli import add_keys_subcommands

    add_keys_subcommands(sub, common)
    p = sub.add_parser("version", help="print the version")
    p.set_defaults(handler=lambda a: print(f"proxypal-engine {__version__}") or 0)
    if _needs_login_commands(sys.argv[1:] if argv is None else argv):
        from proxy_engine.logins.cli import add_login_subcommands

        add_login_subcommands(sub)
    args = parser.parse_args(argv)
    # Whatever runs first, the files it makes under ProxyPal's home are the user's alone.
    os.umask(0o077)
    if args.handler is not _serve:
        resume_collection()  # paused by `python -m proxy_engine` for serve's start-up (heap.py)
    return args.handler(args)
