"""What the doctor found: one `Finding` per thing checked, each failure with the fix that makes it right."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OK = "ok"
FAIL = "fail"  # needs the user's attention: the command exits non-zero
NOTE = "note"  # worth knowing, nothing to fix (a check skipped, a kind with no cheap call)


@dataclass(frozen=True)
class Finding:
    check: str  # config, secrets, provider, credential, port, tool, clock
    subject: str  # what was checked: a file, a provider's credential, a tool
    status: str  # OK, FAIL or NOTE
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorReport:
    config_file: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, findings: list[Finding]) -> None:
        self.findings.extend(findings)

    @property
    def healthy(self) -> bool:
        return not any(f.status == FAIL for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.healthy else 1

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.healthy, "config_file": self.config_file, "checks": [f.as_dict() for f in self.findings]}
