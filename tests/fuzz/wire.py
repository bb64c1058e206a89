"""Exact bytes on the wire: a raw HTTP/1.1 client (any header or path bytes, invalid UTF-8 included)
and the invariant every fuzzed answer must hold."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from tests.dialect_errors import dialect_error

TIMEOUT_S = 15.0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Tally:
    """The figures the fuzz suite reports: what was sent and what broke the invariant."""

    requests: int = 0
    proxy_5xx: int = 0
    non_dialect_errors: int = 0
    rows_checked: int = 0
    rows_lost: int = 0
    failures: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if len(self.failures) < 20:
            self.failures.append(problem[:500])


def send(port: int, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> Reply:
    """One request with exactly these bytes on a fresh connection; the reply read to the end."""
    head = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1:%d" % port]
    head += [k + b": " + v for k, v in headers]
    head += [b"Content-Length: %d" % len(body), b"Connection: close", b"", b""]
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as s:
        s.sendall(b"\r\n".join(head) + body)
        chunks = []
        while chunk := s.recv(1 << 16):
            chunks.append(chunk)
    return _parse(b"".join(chunks))


def _parse(data: bytes) -> Reply:
    head, _, rest = data.partition(b"\r\n\r\n")
    if head.startswith(b"HTTP/1.1 100"):  # `Expect: 100-continue` was answered first
        return _parse(rest)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        rest = _dechunk(rest)
    return Reply(status, headers, rest)


def _dechunk(data: bytes) -> bytes:
    out, pos = [], 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return b"".join(out)  # cut short: what arrived
        size = int(data[pos:end].split(b";")[0] or b"0", 16)
        if size == 0:
            return b"".join(out)
        out.append(data[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2


def check(tally: Tally, reply: Reply, dialect: str | None, what: str) -> list[str]:
    """The invariant for one answer: no 5xx the proxy made, no traceback, errors in the caller's dialect.

    The fake upstreams answer every well-formed request correctly and are never scripted to fail
    here, so any 5xx is the proxy's own. `dialect` None: a path no route serves (aiohttp's 404/405).
    """
    tally.requests += 1
    problems = []
    if reply.status >= 500:
        tally.proxy_5xx += 1
        problems.append(f"{what}: proxy answered {reply.status}: {reply.body[:300]!r}")
    if b"Traceback (most recent call last)" in reply.body:
        problems.append(f"{what}: a traceback in the reply")
    if dialect is not None and reply.status >= 400:
        wrong = dialect_error(dialect, reply.status, reply.body)
        if wrong:
            tally.non_dialect_errors += 1
            problems.append(f"{what}: {reply.status} not in {dialect}'s error shape: {wrong}")
    for p in problems:
        tally.note(p)
    return problems
