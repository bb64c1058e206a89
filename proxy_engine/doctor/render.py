"""The doctor's report for people (a table, each failure followed by its fix) and for scripts (JSON)."""

from __future__ import annotations

import json
import textwrap

from proxy_engine.doctor.findings import FAIL, DoctorReport

_MARK = {"ok": "ok", "fail": "FAIL", "note": "note"}


def as_json(report: DoctorReport) -> str:
    return json.dumps(report.as_dict(), indent=2)


def as_table(report: DoctorReport, width: int = 100) -> str:
    """One row per finding: state, check and subject (never cut), then its detail and fix beneath."""
    lines = [f"ProxyPal doctor: {report.config_file}", "", f"{'STATE':<5} {'CHECK':<10} SUBJECT / DETAIL"]
    indent = " " * 17
    wrap = max(40, width - len(indent))
    for f in report.findings:
        lines.append(f"{_MARK.get(f.status, f.status):<5} {f.check:<10} {f.subject}")
        lines += [indent + part for part in textwrap.wrap(f.detail, wrap)]
        if f.fix:
            lines += [indent + part for part in textwrap.wrap("fix: " + f.fix, wrap)]
    failures = sum(1 for f in report.findings if f.status == FAIL)
    lines += ["", "all good" if not failures else f"{failures} thing(s) need attention"]
    return "\n".join(line.rstrip() for line in lines)
