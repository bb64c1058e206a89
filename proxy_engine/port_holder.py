"""Which process listens on a TCP port, so a taken port is reported by name (never to kill it)."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class ListeningProcess:
    pid: int
    name: str
    command: str  # its command line, shortened

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid})"


def port_holder(port: int) -> ListeningProcess | None:
    """The process listening on port, or None when psutil cannot tell (another user's process, no permission).

    psutil is imported here: `serve` asks only when its port is taken, so a normal start never loads it."""
    import psutil

    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                proc = psutil.Process(conn.pid)
                with proc.oneshot():
                    command = " ".join(proc.cmdline())
                    return ListeningProcess(conn.pid, proc.name(), command[:160])
    except (OSError, psutil.Error):
        return None
    return None


def describe_holder(port: int) -> str:
    """ "python3 (pid 123)", or a sentence saying the holder cannot be seen."""
    holder = port_holder(port)
    return str(holder) if holder else "another program (its process cannot be seen from this user)"


def port_free(host: str, port: int) -> bool:
    """Could a server bind host:port now? Bound with SO_REUSEADDR as aiohttp does, then released."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            raise
    return True
