"""Where ProxyPal keeps its files.

`PROXYPAL_HOME` moves everything under one folder (tests and portable installs);
otherwise the platform's conventional directories are used via platformdirs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "proxypal"
# Unix socket paths are limited to ~107 bytes; leave room for the file name.
_MAX_SOCKET_DIR = 80


@dataclass(frozen=True)
class Paths:
    config_file: Path
    data_dir: Path
    state_dir: Path
    runtime_dir: Path

    @property
    def ledger_file(self) -> Path:
        return self.data_dir / "usage.db"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def management_key_file(self) -> Path:
        return self.data_dir / "management.key"

    def events_socket(self, port: int) -> Path:
        return self.runtime_dir / f"events-{port}.sock"

    def ensure(self) -> None:
        for d in (self.config_file.parent, self.data_dir, self.state_dir, self.log_dir, self.runtime_dir):
            make_private_dirs(d)
        for d in (self.data_dir, self.state_dir, self.log_dir, self.runtime_dir):
            os.chmod(d, 0o700)


def make_private_dirs(path: Path) -> Path:
    """`mkdir -p` where every directory it creates is 0700.

    `Path.mkdir(parents=True, mode=...)` gives the mode to the last directory only (parents get
    the umask's 0755), so whichever command runs first would leave the home readable.
    """
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(d, 0o700)
    return path


def atomic_write(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Replace `path` with `data` so a reader sees the old file or the new one, never half of it.

    The temp file is made in the same folder (mkstemp: 0600 from its first byte), fsynced, given
    `mode` and renamed over the target; the folder is fsynced so the rename survives a crash. A
    symlinked target (dotfile managers) is written through, never replaced by a file. Missing
    folders are created 0700. Used for every file ProxyPal writes whole, engine and TUI alike.
    """
    real = path.resolve() if path.is_symlink() else path
    make_private_dirs(real.parent)
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".proxypal-tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(real.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def private_sqlite_files(db: Path) -> None:
    """SQLite creates its database, -wal and -shm with the umask's mode: make them 0600."""
    for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        try:
            os.chmod(f, 0o600)
        except FileNotFoundError:
            continue


def _runtime_dir(preferred: Path) -> Path:
    if len(str(preferred)) <= _MAX_SOCKET_DIR:
        return preferred
    # A deep PROXYPAL_HOME would overflow sun_path; fall back to a short private dir.
    short = make_private_dirs(Path(tempfile.gettempdir()) / f"proxypal-{os.getuid()}")
    os.chmod(short, 0o700)
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:12]
    return make_private_dirs(short / digest)


def resolve_paths(config_override: str | os.PathLike[str] | None = None) -> Paths:
    home = os.environ.get("PROXYPAL_HOME")
    if home:
        base = Path(home).expanduser().resolve()
        config = base / "config.yaml"
        data, state, runtime = base / "data", base / "state", _runtime_dir(base / "run")
    else:
        config = Path(platformdirs.user_config_dir(APP)) / "config.yaml"
        data = Path(platformdirs.user_data_dir(APP))
        state = Path(platformdirs.user_state_dir(APP))
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if xdg:
            runtime = _runtime_dir(Path(xdg) / APP)
        else:
            runtime = _runtime_dir(Path(tempfile.gettempdir()) / f"proxypal-{os.getuid()}" / "run")
    env_config = os.environ.get("PROXYPAL_CONFIG")
    if config_override:
        config = Path(config_override).expanduser().resolve()
    elif env_config:
        config = Path(env_config).expanduser().resolve()
    return Paths(config_file=config, data_dir=data, state_dir=state, runtime_dir=runtime)
