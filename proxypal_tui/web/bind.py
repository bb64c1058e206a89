"""Where the web view may listen: loopback freely; anywhere else only with TLS or an explicit, loud opt-in."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class BindRefused(ValueError):
    """The requested address would expose the control centre without protection."""


@dataclass(frozen=True)
class BindPlan:
    host: str
    port: int
    tls: ssl.SSLContext | None
    warning: str | None  # printed loudly before serving (a public bind without TLS)

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = "::1" if host == "::" else host
        return f"{self.scheme}://{f'[{host}]' if ':' in host else host}:{self.port}/"


def is_loopback(host: str) -> bool:
    """Only names and addresses that can never be reached from another machine count."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other name may resolve to a public address


def tls_context(certfile: Path | None, keyfile: Path | None) -> ssl.SSLContext | None:
    """A server TLS context from a certificate and its key; both or neither."""
    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        raise BindRefused("--certfile and --keyfile go together: give both, or neither")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as e:
        raise BindRefused(f"cannot load the TLS certificate {certfile} / key {keyfile}: {e}") from e
    return ctx


def plan_bind(
    host: str, port: int, certfile: Path | None = None, keyfile: Path | None = None, insecure_public: bool = False
) -> BindPlan:
    """Refuse a non-loopback address without TLS unless `insecure_public` says the user means it."""
    if not 0 <= port <= 65535:
        raise BindRefused(f"--port must be between 0 and 65535, not {port}")
    tls = tls_context(certfile, keyfile)
    warning = None
    if not is_loopback(host) and tls is None:
        if not insecure_public:
            raise BindRefused(
                f"refusing to serve the web view on {host!r} without TLS: the management key and the "
                "dashboard would cross the network in clear text. Give --certfile and --keyfile, bind "
                "to 127.0.0.1 (the default), or pass --insecure-public if you really mean it."
            )
        warning = (
            f"WARNING: serving the ProxyPal web view on {host}:{port} WITHOUT TLS (--insecure-public). "
            "Anyone on the network path can read the management key and the dashboard."
        )
    return BindPlan(host, port, tls, warning)
