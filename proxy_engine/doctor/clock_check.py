"""Is this machine's clock right? Compared with the `Date` header of the providers' own answers.

More than a minute of skew breaks OAuth (tokens look expired or not yet valid) and AWS SigV4
(signatures outside the allowed window are refused).
"""

from __future__ import annotations

from proxy_engine.doctor.findings import FAIL, NOTE, OK, Finding
from proxy_engine.doctor.provider_probe import ServerDate

MAX_SKEW_S = 60.0


def check_clock(dates: list[ServerDate]) -> list[Finding]:
    if not dates:
        return [Finding("clock", "system clock", NOTE, "no provider answered with a Date header; not compared")]
    worst = max(dates, key=lambda d: abs(d.local_epoch - d.server_epoch))
    skew = worst.local_epoch - worst.server_epoch
    if abs(skew) <= MAX_SKEW_S:
        names = ", ".join(sorted({d.provider for d in dates}))
        return [Finding("clock", "system clock", OK, f"within {abs(skew):.0f} s of {names}")]
    way = "ahead of" if skew > 0 else "behind"
    return [
        Finding(
            "clock",
            "system clock",
            FAIL,
            f"{abs(skew):.0f} s {way} {worst.provider}'s clock (its Date header); over {MAX_SKEW_S:.0f} s, "
            "OAuth tokens and AWS signatures are refused",
            "turn on time sync (NTP), e.g. `timedatectl set-ntp true` or your OS's date & time settings",
        )
    ]
