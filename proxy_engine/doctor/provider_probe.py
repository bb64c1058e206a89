"""Does each provider answer its cheapest authenticated call (its models list) with each of its keys?

The request goes through the provider's kind (`ProviderKind.probe`), as a model call would; the key
is never printed, and neither is the upstream's error text (it may quote the key). Each answer's
`Date` header is kept for the clock check.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp

from proxy_engine.config import Config
from proxy_engine.credentials.call import UpstreamCall
from proxy_engine.credentials.pool import ANONYMOUS, Credential
from proxy_engine.doctor.findings import FAIL, NOTE, OK, Finding
from proxy_engine.paths import Paths
from proxy_engine.providers import Provider, build_provider
from proxy_engine.secrets.base import SecretStore

PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ServerDate:
    """An upstream's `Date` header and the local time halfway through the call that carried it."""

    provider: str
    server_epoch: float
    local_epoch: float


def build_providers(cfg: Config, store: SecretStore | None, paths: Paths) -> dict[str, Provider]:
    """The configured providers with their keys read, as the engine builds them (unreadable keys left out)."""
    from proxy_engine.doctor.secret_check import read_ref

    providers = {}
    for name, pc in cfg.providers.items():
        secrets, unreadable = {}, []
        for cred in pc.key_credentials():
            value = read_ref(cred.key, store, paths)
            if value:
                secrets[cred.cred_id] = value
            else:
                unreadable.append(cred.key)
        providers[name] = build_provider(name, pc, secrets, tuple(unreadable))
    return providers


def _where(url: str) -> str:
    """Scheme, host and path only: a query could carry a key."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _answer_finding(provider: str, subject: str, status: int, where: str, ms: float) -> Finding:
    if 200 <= status < 300:
        return Finding("provider", subject, OK, f"answered {status} in {ms:.0f} ms ({where})")
    if status in (401, 403):
        return Finding(
            "provider",
            subject,
            FAIL,
            f"refused the key: HTTP {status} from {where}",
            "the key is wrong, revoked or lacks access: store a new one with "
            f"`proxypal-engine login {provider} --api-key-stdin` (or the Providers screen, `a`)",
        )
    if status == 429:
        return Finding("provider", subject, OK, f"key accepted but rate limited (HTTP 429 from {where})")
    if status == 404:
        return Finding(
            "provider",
            subject,
            FAIL,
            f"HTTP 404 from {where}: nothing answers there",
            "check the provider's base_url in the config (OpenAI-style URLs usually end in /v1)",
        )
    if status >= 500:
        return Finding(
            "provider",
            subject,
            FAIL,
            f"the provider is failing: HTTP {status} from {where}",
            "try again later; meanwhile the engine fails over to other candidates",
        )
    return Finding(
        "provider",
        subject,
        FAIL,
        f"unexpected HTTP {status} from {where}",
        "check the provider's base_url and settings in the config",
    )


def _store_fix(provider: str, ref: str) -> str:
    scheme, _, name = ref.partition(":")
    if scheme == "env":
        return f"set the environment variable {name} where the engine runs"
    return f"store the key: `proxypal-engine login {provider} --api-key-stdin --name {name}`"


async def _probe_one(session: aiohttp.ClientSession, p: Provider, cred: Credential, dates: list[ServerDate]) -> Finding:
    subject = f"{p.name}/{cred.id}" if cred is not ANONYMOUS else p.name
    call = p.key_call(cred, p.dialects[0]) if cred is not ANONYMOUS else UpstreamCall(cred, p.base_url, {})
    probe = p.probe(call)
    if probe is None:
        return Finding("provider", subject, NOTE, f"{p.kind} has no cheap call to test a key; not probed")
    where = _where(probe.url)
    started = time.time()
    try:
        async with session.get(
            probe.url,
            headers={**p.extra_headers, **probe.headers},
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S),
        ) as answer:
            await answer.read()
            status, date = answer.status, answer.headers.get("Date")
    except TimeoutError:
        return Finding(
            "provider",
            subject,
            FAIL,
            f"no answer from {where} within {PROBE_TIMEOUT_S:.0f} s",
            "check the network, a proxy (HTTPS_PROXY) or the provider's status page",
        )
    except aiohttp.ClientError as e:
        reason = type(e).__name__ if not isinstance(e, aiohttp.ClientConnectorError) else str(e.os_error)
        return Finding(
            "provider",
            subject,
            FAIL,
            f"cannot reach {where}: {reason}",
            "check base_url, the network and DNS; the engine cannot reach it either",
        )
    ended = time.time()
    if date:
        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            server = None
        if server is not None:
            dates.append(ServerDate(p.name, server, (started + ended) / 2))
    return _answer_finding(p.name, subject, status, where, (ended - started) * 1000)


async def probe_providers(providers: dict[str, Provider]) -> tuple[list[Finding], list[ServerDate]]:
    """Every key of every provider, probed at once; logins are judged by their state (credential check)."""
    dates: list[ServerDate] = []
    found: list[Finding] = []
    calls = []
    async with aiohttp.ClientSession(skip_auto_headers=("User-Agent",)) as session:
        for p in providers.values():
            found += [
                Finding("provider", f"{p.name}/{ref}", FAIL, f"the key {ref} cannot be read", _store_fix(p.name, ref))
                for ref in p.unreadable
            ]
            creds = list(p.key_credentials) or ([ANONYMOUS] if p.keyless else [])
            if p.login and not p.key_credentials:
                found.append(
                    Finding(
                        "provider",
                        p.name,
                        NOTE,
                        f"uses the {p.login} login: its state is under "
                        "credential (with the engine running) and in `proxypal-engine auth status`",
                    )
                )
            calls += [_probe_one(session, p, cred, dates) for cred in creds]
        found += await asyncio.gather(*calls)
    return found, dates
