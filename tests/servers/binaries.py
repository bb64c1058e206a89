"""Where the server binaries are: PATH first, then Debian's versioned PostgreSQL directories."""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
from pathlib import Path

# Debian and Ubuntu keep the PostgreSQL server outside PATH, one directory per major version.
_PG_DIRS = "/usr/lib/postgresql/*/bin"


def _version(path: str) -> int:
    m = re.search(r"/postgresql/(\d+)/", path)
    return int(m.group(1)) if m else 0


def postgres_bin_dir() -> Path | None:
    """A directory holding `initdb`, `postgres` and `createdb`, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    candidates = [os.path.dirname(found)] if found else []
    candidates += sorted(glob.glob(_PG_DIRS), key=_version, reverse=True)
    for d in candidates:
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "postgres", "createdb")):
            return Path(d)
    return None


def redis_server_bin() -> Path | None:
    found = shutil.which("redis-server")
    if found is None and os.access("/usr/bin/redis-server", os.X_OK):
        found = "/usr/bin/redis-server"
    return Path(found) if found else None


def unprivileged_user() -> str | None:
    """The user to run PostgreSQL as when we are root (it refuses to run as root); None when not root.

    `PROXYPAL_TEST_DB_USER` wins; else Debian's `postgres` account, else `nobody`."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("PROXYPAL_TEST_DB_USER"), "postgres", "nobody"):
        if not name:
            continue
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


MISSING_POSTGRES = ("PostgreSQL server binaries not found (initdb/postgres on PATH or in /usr/lib/postgresql/*/bin); "
                    "`.ci/run` installs them with apt-get install postgresql")  # fmt: skip
MISSING_REDIS = "redis-server not found on PATH; `.ci/run` installs it with apt-get install redis-server"
