"""`proxypal-engine doctor`: run every check, print the findings, exit non-zero when one needs attention."""

from __future__ import annotations

import argparse
import asyncio
import sys

from proxy_engine.doctor.clock_check import check_clock
from proxy_engine.doctor.config_check import check_config
from proxy_engine.doctor.credential_check import check_credentials
from proxy_engine.doctor.engine_client import ask_engine
from proxy_engine.doctor.findings import NOTE, DoctorReport, Finding
from proxy_engine.doctor.port_check import check_port
from proxy_engine.doctor.provider_probe import build_providers, probe_providers
from proxy_engine.doctor.render import as_json, as_table
from proxy_engine.doctor.secret_check import client_key_findings, open_store
from proxy_engine.doctor.tool_check import check_tools
from proxy_engine.paths import Paths, resolve_paths


async def diagnose(paths: Paths) -> DoctorReport:
    report = DoctorReport(str(paths.config_file))
    loaded, found = check_config(paths)
    report.add(found)
    if loaded is None:
        report.add([Finding("doctor", "other checks", NOTE, "skipped until the config validates")])
        return report
    cfg = loaded.config
    # Blocking work (the secret store may run scrypt, the keyring may block) stays off the loop.
    store, found = await asyncio.to_thread(open_store, paths)
    report.add(found)
    providers = await asyncio.to_thread(build_providers, cfg, store, paths)
    client_keys = await asyncio.to_thread(client_key_findings, cfg, store, paths)
    (probes, dates), engine, tools = await asyncio.gather(
        probe_providers(providers), ask_engine(cfg, paths), check_tools(paths.config_file)
    )
    report.add(client_keys)
    report.add(probes)
    report.add(check_clock(dates))
    report.add(await asyncio.to_thread(check_credentials, cfg, paths, engine))
    report.add(await asyncio.to_thread(check_port, cfg, engine))
    report.add(tools)
    return report


def doctor_main(args: argparse.Namespace) -> int:
    paths = resolve_paths(args.config)
    report = asyncio.run(diagnose(paths))
    print(as_json(report) if args.json else as_table(report))
    sys.stdout.flush()
    return report.exit_code
