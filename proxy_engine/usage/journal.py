"""The record journal: each finished request is appended as one JSON line before the client sees
its last byte, so a killed engine loses nothing that the ledger has not committed yet.

A line is the ledger row's values as a JSON array, in the ledger's column order (columns are only
ever appended, so an older line is a prefix), which encodes in two thirds of the time a JSON object
takes; lines written before are JSON objects, and both are read back (`read`, `ledger.journal_row`).

A write lands in the page cache with one `os.write` on an O_APPEND fd (no fsync): it survives
a process kill, not a power cut. Each engine run owns a directory `journal/<run>/` and holds an
flock on its `lock` file for its life. The live segment is sealed (renamed) when the ledger
takes a batch, and a sealed segment is deleted once its rows are committed. At start-up the
directories of runs whose lock is free (the engine died) are adopted and replayed; rows have
unique ids, so a replay is idempotent.

The journal is bounded when `max_bytes` is set (`ledger.max_journal_mb`): while the database is away
(PostgreSQL down in team mode) rows queue here, and past the bound a record is not journaled (it
stays in the ledger's memory backlog, which has its own bound; beyond both, rows are dropped and counted).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("proxy_engine.journal")

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_LIVE = "live.jsonl"


def _lock(path: Path, create: bool = True) -> int | None:
    """An exclusive flock on `path`, or None when another live engine holds it."""
    fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class RecordJournal:
    """Append-only JSON lines; failures are counted, never raised to the request path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir: Path | None = None
        self.failed = 0  # records that could not be journaled (disk full, ...)
        self.failed_in_a_row = 0  # 0 once a write succeeds again
        self.last_error: str | None = None
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._live_bytes = 0
        self._torn = False  # a short write left a partial line: start the next one on a new line
        self._seq = 0
        self.max_bytes: int | None = None  # the bound on live + sealed segments; None: the disk's size
        self._sealed_bytes = 0  # sealed segments not yet committed, as of the last seal

    # ---- start-up (worker thread) ----
    def open(self) -> list[Path]:
        """Create this run's directory and adopt dead runs' segments; returns the segments to replay."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        staging = self.root / f".new-{secrets.token_hex(6)}"  # never adopted while half made
        staging.mkdir(mode=0o700)
        self._lock_fd = _lock(staging / "lock")
        run = self.root / staging.name.removeprefix(".new-")
        staging.rename(run)
        self.dir = run
        adopted = [p for d in sorted(self.root.iterdir()) if d != run for p in self._adopt(d)]
        self._open_live()
        self._sealed_bytes = self._measure()
        return adopted

    def _measure(self) -> int:
        """Bytes in this run's sealed segments (a handful of files: those still waiting for the database)."""
        if self.dir is None:
            return 0
        total = 0
        for p in self.dir.glob("sealed-*.jsonl"):
            try:
                total += p.stat().st_size
            except FileNotFoundError:
                continue  # committed and deleted meanwhile
        return total

    def _over_bound(self, more: int) -> bool:
        return self.max_bytes is not None and self._sealed_bytes + self._live_bytes + more > self.max_bytes

    def _adopt(self, run: Path) -> list[Path]:
        """Move a dead run's segments into ours (a rename: no space needed) and remove its directory."""
        if run.name.startswith(".") or not run.is_dir():
            return []
        try:
            fd = _lock(run / "lock", create=False)
        except FileNotFoundError:
            return []  # adopted by another engine, or its owner is removing it
        if fd is None:
            return []  # a live engine owns it
        moved: list[Path] = []
        try:
            for p in sorted(run.glob("*.jsonl"), key=_segment_order):
                moved.append(self._move_in(p))
            (run / "lock").unlink(missing_ok=True)
            run.rmdir()
        except OSError as e:
            log.error("journal of a dead run %s only partly adopted: %s", run, e)  # the rest: next start
        finally:
            os.close(fd)
        return moved

    def _move_in(self, segment: Path) -> Path:
        assert self.dir is not None
        self._seq += 1
        target = self.dir / f"sealed-{self._seq:06d}.jsonl"
        segment.rename(target)
        return target

    def _open_live(self) -> None:
        if self.dir is None:
            raise OSError("the journal directory could not be created")
        fd = os.open(self.dir / _LIVE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._fd, self._live_bytes, self._torn = fd, os.fstat(fd).st_size, False

    # ---- hot path (event loop) ----
    def append(self, values: tuple[Any, ...]) -> bool:
        """One write syscall; False (and counted) when the record could not be journaled."""
        line = _dumps(values).encode(errors="replace") + b"\n"  # a lone surrogate must not cost the row
        if self._torn:
            line = b"\n" + line
        if self._over_bound(len(line)):
            return self._failed(
                OSError(f"the journal is at its bound of {self.max_bytes} bytes (ledger.max_journal_mb)")
            )
        try:
            if self._fd is None:
                self._open_live()  # a seal could not open a new live segment earlier
            assert self._fd is not None
            n = os.write(self._fd, line)
        except OSError as e:
            return self._failed(e)
        self._live_bytes += n
        if n < len(line):  # disk filled mid-line; the partial line is skipped on replay
            self._torn = True
            return self._failed(OSError("short write to the journal"))
        self._torn = False
        self.failed_in_a_row = 0
        return True

    def _failed(self, e: OSError) -> bool:
        if not self.failed_in_a_row or self.last_error != str(e):
            log.error("journal write failed (%s); rows are kept in memory until the ledger commits them", e)
        self.failed += 1
        self.failed_in_a_row += 1
        self.last_error = str(e)
        return False

    def probe(self) -> bool:
        """After failures, write an empty line (skipped on replay) to learn whether the disk has room again."""
        if not self.failed_in_a_row:
            return True
        if self._over_bound(1):
            return False
        try:
            if self._fd is None:
                self._open_live()
            assert self._fd is not None
            self._live_bytes += os.write(self._fd, b"\n")
        except OSError as e:
            self.last_error = str(e)
            return False
        self._torn = False
        self.failed_in_a_row = 0
        log.warning("journal writes work again (%d records could not be journaled)", self.failed)
        return True

    def committed(self) -> None:
        """Every sealed segment was committed and deleted: their bytes no longer count against the bound."""
        self._sealed_bytes = 0

    def seal(self) -> Path | None:
        """Close the live segment under a new name; rows appended from now on go to a fresh one."""
        if self._fd is None or self._live_bytes == 0 or self.dir is None:
            return None
        self._seq += 1
        sealed = self.dir / f"sealed-{self._seq:06d}.jsonl"
        self._sealed_bytes = self._measure() + self._live_bytes
        os.close(self._fd)
        self._fd = None
        try:
            os.rename(self.dir / _LIVE, sealed)
        except OSError as e:
            log.error("could not seal the journal segment: %s", e)
            return None  # the rows stay in the live segment; the next append reopens it
        finally:
            try:
                self._open_live()
            except OSError as e:
                log.error("could not open a new journal segment: %s", e)  # the next append retries
        return sealed

    # ---- replay and clean-up (worker thread) ----
    @staticmethod
    def read(segment: Path) -> Iterator[dict[str, Any] | list[Any]]:
        """The records in a segment: value arrays, or objects from older engines; a torn line (a write cut
        short) is skipped."""
        with open(segment, "rb") as f:
            for line in f:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if obj.get("id") if isinstance(obj, dict) else isinstance(obj, list) and obj and obj[0]:  # the id
                    yield obj

    @staticmethod
    def discard(segments: list[Path]) -> None:
        for p in segments:
            p.unlink(missing_ok=True)

    def close(self, remove: bool) -> None:
        """Close the live segment; with `remove` (everything committed) the run directory goes too.

        The lock file is unlinked before its flock is released, so no other engine adopts it meanwhile.
        """
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if remove and self.dir is not None and not any(self.dir.glob("sealed-*.jsonl")):
            try:  # (a sealed segment left here was never committed: the next start adopts and replays it)
                (self.dir / _LIVE).unlink(missing_ok=True)
                (self.dir / "lock").unlink(missing_ok=True)
                self.dir.rmdir()
            except OSError as e:
                log.warning("journal directory %s left behind: %s", self.dir, e)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _segment_order(p: Path) -> tuple[int, str]:
    return (1, p.name) if p.name == _LIVE else (0, p.name)
