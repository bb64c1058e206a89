"""Runs `proxypal-engine doctor --json` as a subprocess and reads its report (no Textual here).

The TUI never imports the engine's doctor: it runs the same command a user would, with the
environment the engine gets (a session passphrase included), and shows what it printed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

DOCTOR_TIMEOUT_S = 90.0  # provider probes time out after 10 s each, in parallel; the tools check after 30 s


@dataclass(frozen=True)
class DoctorCheck:
    check: str
    subject: str
    status: str  # ok | fail | note
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class DoctorOutcome:
    checks: list[DoctorCheck] = field(default_factory=list)
    ok: bool = False
    error: str = ""  # the doctor itself could not run or answer

    @property
    def failures(self) -> int:
        return sum(1 for c in self.checks if c.status == "fail")


def doctor_command(config_path: Path) -> list[str]:
    return [sys.executable, "-m", "proxy_engine", "doctor", "--json", "--config", str(config_path)]


def parse_report(text: str) -> DoctorOutcome:
    try:
        data = json.loads(text)
        checks = [
            DoctorCheck(str(c["check"]), str(c["subject"]), str(c["status"]), str(c["detail"]), str(c.get("fix") or ""))
            for c in data["checks"]
        ]
    except (ValueError, KeyError, TypeError):
        return DoctorOutcome(error="the doctor printed something that is not its JSON report")
    return DoctorOutcome(checks, bool(data.get("ok")))


async def run_doctor(argv: list[str], env: dict[str, str] | None) -> DoctorOutcome:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,  # no controlling terminal: it can never prompt on ours
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), DOCTOR_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return DoctorOutcome(error=f"the doctor did not finish within {DOCTOR_TIMEOUT_S:.0f} s")
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode not in (0, 1):  # 1 = something needs attention; anything else is the doctor failing
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        return DoctorOutcome(error=f"the doctor failed: {tail[0][:300]}")
    return parse_report(out.decode("utf-8", "replace"))
