"""Writing one management action to the audit log from a running engine.

The action has already happened when this runs, so a database that cannot take the entry is an
error in the log (naming the action), never a failed action; the entry's detail holds ids and
references only, never a secret.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from proxy_engine.state import RunningEngine
from proxy_engine.storage.errors import StorageUnavailable

log = logging.getLogger("proxy_engine.audit")


async def audit(
    state: RunningEngine, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None
) -> None:
    try:
        await state.storage.audit.append(actor, action, target, detail)
    except (StorageUnavailable, sqlite3.Error, OSError) as e:
        log.error("audit log: %s by %s on %s could not be written (%s)", action, actor, target or "-", e)
