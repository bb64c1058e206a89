"""`proxypal-tui [--config PATH] [--attach] [--keep-engine] [--theme NAME] [--web ...]` and `proxypal-tui tools ...`."""

from __future__ import annotations

import argparse
import atexit
import sys
from pathlib import Path

from proxy_engine.paths import resolve_paths
from proxypal_tui import __version__
from proxypal_tui.hangup import EXIT_CODES_HELP


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="proxypal-tui",
        description="Control centre for the ProxyPal engine: starts or attaches to it, shows live traffic.",
        epilog=f"{EXIT_CODES_HELP}\n\n`proxypal-tui tools --help` points coding tools at the proxy.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", type=Path, default=None, help="config file (default: PROXYPAL_CONFIG or the user dir)")
    p.add_argument("--attach", action="store_true", help="only attach to a running engine; never start one")
    p.add_argument("--keep-engine", action="store_true", help="leave the engine running when quitting")
    p.add_argument("--theme", default=None, help="colour theme for this run (e.g. proxypal-light)")
    p.add_argument("--version", action="version", version=f"proxypal-tui {__version__}")
    web = p.add_argument_group("web view", "serve this control centre to a browser (needs the management key)")
    web.add_argument("--web", action="store_true", help="serve the app in a browser instead of this terminal")
    web.add_argument("--host", default=None, help=f"address for the web view (default {WEB_HOST})")
    web.add_argument("--port", type=int, default=None, help=f"port for the web view (default {WEB_PORT})")
    web.add_argument("--certfile", type=Path, default=None, help="TLS certificate (PEM) for the web view")
    web.add_argument("--keyfile", type=Path, default=None, help="TLS private key (PEM) for the web view")
    web.add_argument(
        "--insecure-public",
        action="store_true",
        help="allow a non-loopback web view without TLS (the key then crosses the network in clear text)",
    )
    return p


WEB_HOST = "127.0.0.1"
WEB_PORT = 8318
_WEB_ONLY = ("host", "port", "certfile", "keyfile", "insecure_public")


def run_tools(argv: list[str]) -> int:
    try:
        from proxypal_tui.tools.cli import tools_main
    except ImportError as e:
        print(f"proxypal-tui tools is not available in this build ({e})", file=sys.stderr)
        return 2
    return tools_main(argv)


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["tools"]:
        return run_tools(args_list[1:])
    parser = _parser()
    args = parser.parse_args(args_list)
    if args.web:
        return run_web_view(args)
    stray = [f"--{name.replace('_', '-')}" for name in _WEB_ONLY if getattr(args, name) not in (None, False)]
    if stray:
        parser.error(f"{', '.join(stray)} need --web")

    # Textual is imported only for the app itself, so `tools` and `--help` stay fast.
    from proxypal_tui.app import ProxyPalApp
    from proxypal_tui.core.configfile import ensure_config
    from proxypal_tui.core.settings import load_settings, settings_path
    from proxypal_tui.options import AppOptions

    paths = resolve_paths(args.config)
    config_path = paths.config_file
    first_run = False if args.attach else ensure_config(config_path)
    settings_file = settings_path(config_path)
    try:
        settings = load_settings(settings_file)
    except ValueError as e:
        print(f"{settings_file}: {e}", file=sys.stderr)
        return 2
    if args.theme:
        settings = settings.model_copy(update={"theme": args.theme})
    options = AppOptions(
        config_path=config_path,
        paths=paths,
        attach_only=args.attach,
        keep_engine=args.keep_engine,
        first_run=first_run,
        settings=settings,
        settings_file=settings_file,
    )
    app = ProxyPalApp(options)
    if not args.keep_engine:
        # Belt and braces: if the app dies without its orderly quit, do not leave our engine behind.
        atexit.register(app.supervisor.kill_now)
    result = app.run()
    if app.detached_pid is not None:
        where = f" --config {config_path}" if args.config else ""
        print(f"The engine keeps running (pid {app.detached_pid}). Stop it with: proxypal-engine{where} stop")
    return result if isinstance(result, int) else 0


def run_web_view(args: argparse.Namespace) -> int:
    """`--web`: check the bind, write the first-run config, then serve until Ctrl+C."""
    from proxypal_tui.core.configfile import ensure_config
    from proxypal_tui.web.bind import BindRefused, plan_bind
    from proxypal_tui.web.server import WebOptions, run_web

    try:
        bind = plan_bind(
            args.host or WEB_HOST,
            WEB_PORT if args.port is None else args.port,
            args.certfile,
            args.keyfile,
            args.insecure_public,
        )
    except BindRefused as e:
        print(f"proxypal-tui --web: {e}", file=sys.stderr)
        return 2
    paths = resolve_paths(args.config)
    if not args.attach:
        ensure_config(paths.config_file)
    options = WebOptions(
        bind=bind,
        config_path=paths.config_file,
        paths=paths,
        attach_only=args.attach,
        keep_engine=args.keep_engine,
        theme=args.theme,
    )
    return run_web(options)
