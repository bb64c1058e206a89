"""Logging: a rotating file written by a background thread, with secrets redacted."""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
import threading
from pathlib import Path
from typing import TextIO

from proxy_engine.paths import make_private_dirs


class Redactor(logging.Filter):
    """Replaces every known secret value in a record's final message."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 6:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        msg = self.redact(record.getMessage())
        record.msg, record.args = msg, None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


REDACTOR = Redactor()
_listener: logging.handlers.QueueListener | None = None


def setup_logging(log_dir: Path, level: str, filename: str = "engine.log") -> logging.Logger:
    """`filename`: each worker process of `serve --workers N` rotates a file of its own."""
    global _listener
    level = os.environ.get("PROXYPAL_LOG_LEVEL", level).upper()
    make_private_dirs(log_dir)
    file_handler = _PrivateRotatingFile(log_dir / filename, maxBytes=5_000_000, backupCount=3)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    qh = logging.handlers.QueueHandler(q)
    qh.addFilter(REDACTOR)
    root = logging.getLogger("proxy_engine")
    root.handlers[:] = [qh]
    root.setLevel(level)
    root.propagate = False
    if _listener is not None:
        _listener.stop()
    _listener = logging.handlers.QueueListener(q, file_handler, stderr)
    _listener.start()
    os.chmod(log_dir / "engine.log", 0o600)  # a log written by an older version
    return root


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """Every log file, the one rotation starts afresh included, is 0600 from its first byte."""

    def _open(self) -> TextIO:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def stop_logging() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
