"""Config schema and loading.

The schema is shared with the TUI (it validates before saving), so this module
stays free of engine runtime state. Errors always carry file, line and reason.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proxy_engine.kind_facts import (  # noqa: F401  (re-exported for the TUI)
    API_KEY_KINDS,
    KEY_KINDS_OFFERED,
    KEYLESS_KINDS,
    KIND_ALIASES,
    KIND_FACTS,
    KIND_NAMES,
    LOGIN_ONLY_KINDS,
)

# Kind names and the facts the schema checks come from the pure-data `kind_facts` (the TUI reads them here).
KindName = Literal[KIND_NAMES]  # type: ignore[valid-type]
PROVIDER_KINDS: tuple[str, ...] = KIND_NAMES
CostClass = Literal["subscription", "free", "paid"]
SECRET_REF = re.compile(r"^(keyring|env):([A-Za-z0-9_.\-]+)$")

DEFAULT_CONFIG_TEXT = """\
# ProxyPal config. The engine reloads this file as soon as it is saved.
# Secrets never live here: refer to them as keyring:NAME or env:VAR.
port: 8317
host: 127.0.0.1

# Upstream providers. `kind` is one of anthropic, openai, gemini, openai_compatible, azure_openai,
# qwen, codex, gemini_cli, copilot, vertex, bedrock (it can be left out when the name is the kind).
# base_url overrides the default endpoint. Several keys form a pool: api_keys: [keyring:a, env:B].
# auth: oauth uses the logins of `proxypal-engine login claude|codex|gemini-cli|copilot|qwen|vertex`.
providers: {}
#  anthropic: {api_key: env:ANTHROPIC_API_KEY}
#  openai:    {api_key: env:OPENAI_API_KEY}
#  gemini:    {api_key: keyring:gemini}
#  claude:    {kind: anthropic, auth: oauth}
#  codex:     {}
#  work-llm:  {kind: openai_compatible, base_url: https://llm.example/v1, api_key: env:WORK_KEY,
#              models: [qwen3-coder]}

# Friendly names -> ordered candidates (provider: model); requests fail over down the list.
models: {}
#  Smart: {anthropic: claude-opus-4-5, gemini: gemini-2.5-pro}
#  Rush:  {anthropic: claude-haiku-4-5}

# Keys that tools must present. Required automatically when host is not loopback.
clients: []
#  - {name: laptop, key: env:PROXYPAL_LAPTOP_KEY}

# budgets: {daily_usd: 50, alert_at: [0.5, 0.8, 1.0]}
# quota: {alert_at: [80, 95]}     # routing: {strategy: headroom}; providers: {claude: {max_used_percent: 90}}
# prices: {my-model: {input_per_mtok: 1.0, output_per_mtok: 2.0}}
# Providers may set cost_class (subscription|free|paid), allow_paid_fallback, and pacing per credential
# (max_concurrent, rpm). Signed POSTs of alerts (docs/DESIGN.md, Webhooks):
# webhooks: [{url: https://hooks.example/pp, secret: keyring:webhook, events: [budget.alert, quota.alert]}]
"""


def _check_ref(value: str | None) -> str | None:
    if value is None or SECRET_REF.match(value):
        return value
    raise ValueError("must be a reference like keyring:NAME or env:VAR; secrets never go in the config file")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CredentialConfig(_Strict):
    """One API key of a provider's pool."""

    key: str
    id: str | None = Field(default=None, description="Shown in the TUI and events; defaults to the reference")
    priority: int = Field(default=0, description="Higher is used first; equal priorities rotate")
    max_concurrent: int | None = Field(default=None, ge=1, description="Pacing: requests in flight at once")
    rpm: int | None = Field(default=None, ge=1, description="Pacing: requests started per minute")

    _ref = field_validator("key")(classmethod(lambda cls, v: _check_ref(v)))

    @property
    def cred_id(self) -> str:
        return self.id or self.key


class ProviderConfig(_Strict):
    kind: KindName | None = None
    base_url: str | None = None
    api_key: str | None = None
    api_keys: list[str | CredentialConfig] = Field(default_factory=list, description="A pool of keys")
    auth: Literal["api_key", "oauth"] | None = Field(
        default=None, description="oauth: use the logins stored by `proxypal-engine login`"
    )
    strategy: Literal["round-robin", "fill-first", "headroom"] | None = None
    max_used_percent: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="Skip a credential whose quota window is used above this percentage while another is usable",
    )
    api_version: str | None = Field(default=None, description="azure_openai: the api-version query parameter")
    deployments: dict[str, str] = Field(default_factory=dict, description="azure_openai: model -> deployment")
    location: str | None = Field(default=None, description="vertex: region, e.g. us-central1")
    project: str | None = Field(default=None, description="vertex / gemini_cli: Google Cloud project override")
    region: str | None = Field(default=None, description="bedrock: AWS region")
    profile: str | None = Field(default=None, description="bedrock: AWS profile name")
    models: list[str] = Field(default_factory=list, description="Models served (for bare names and listings)")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers sent upstream")
    dialects: list[str] | None = Field(default=None, description="Wire formats an openai_compatible server speaks")
    connect_timeout_s: float = 10.0
    first_byte_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Streams: the longest wait for the reply's first byte (a model that hides its "
        "thinking sends nothing until it has thought); then the next credential or candidate is tried",
    )
    idle_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description="The longest silence between two reads (a reasoning model can be silent for minutes "
        "mid-stream); a non-stream reply, whose first byte is the whole answer, waits this long too",
    )
    read_timeout_s: float | None = Field(default=None, gt=0, description="Older name of idle_timeout_s")
    cost_class: CostClass | None = Field(
        default=None, description="subscription, free or paid; the default depends on the kind and its login"
    )
    allow_paid_fallback: bool = Field(
        default=False, description="A paid provider: may serve a request that started on a subscription or free one"
    )
    max_concurrent: int | None = Field(
        default=None, ge=1, description="Pacing, per credential: requests in flight at once"
    )
    rpm: int | None = Field(default=None, ge=1, description="Pacing, per credential: requests started per minute")

    _ref = field_validator("api_key")(classmethod(lambda cls, v: _check_ref(v)))

    @property
    def idle_s(self) -> float:
        """`idle_timeout_s`, or `read_timeout_s` where an older config still sets that."""
        return self.read_timeout_s if self.read_timeout_s is not None else self.idle_timeout_s

    @field_validator("api_version", mode="before")
    @classmethod
    def _version_text(cls, v: object) -> object:
        return v.isoformat() if hasattr(v, "isoformat") else v  # YAML reads 2024-10-21 as a date

    @field_validator("api_keys")
    @classmethod
    def _refs(cls, keys: list[str | CredentialConfig]) -> list[str | CredentialConfig]:
        for k in keys:
            if isinstance(k, str):
                _check_ref(k)
        return keys

    def key_credentials(self) -> list[CredentialConfig]:
        """`api_key` and `api_keys` as one pool, in declared order, ids unique."""
        out = [CredentialConfig(key=self.api_key)] if self.api_key else []
        out += [CredentialConfig(key=k) if isinstance(k, str) else k for k in self.api_keys]
        return out

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/") if v else v


class ClientConfig(_Strict):
    name: str
    key: str
    monthly_budget_usd: float | None = None

    _ref = field_validator("key")(classmethod(lambda cls, v: _check_ref(v)))


class RoutingConfig(_Strict):
    mode: Literal["mappings"] = "mappings"
    strategy: Literal["round-robin", "fill-first", "headroom"] = "round-robin"
    retries: int = Field(default=2, ge=0, le=10)
    max_wait_s: float = Field(
        default=0.0, ge=0, le=300, description="When every credential cools down, wait this long at most"
    )
    cache_breakpoints: Literal["off", "auto"] = Field(
        default="off", description="auto: mark system, tools and last user turn for Anthropic's prompt cache"
    )


class BudgetConfig(_Strict):
    daily_usd: float | None = Field(default=None, gt=0)
    monthly_usd: float | None = Field(default=None, gt=0)
    alert_at: list[float] = Field(default_factory=lambda: [0.5, 0.8, 1.0])


class QuotaConfig(_Strict):
    alert_at: list[float] = Field(
        default_factory=lambda: [80.0, 95.0], description="quota.alert when a window's use reaches these percents"
    )

    @field_validator("alert_at")
    @classmethod
    def _percents(cls, v: list[float]) -> list[float]:
        if any(not 0 < t <= 100 for t in v):
            raise ValueError("each threshold is a percentage above 0 and at most 100")
        return v


class PriceOverride(_Strict):
    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_read_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)


class ModelListing(_Strict):
    """What model lists say of one name where genai-prices does not know (or knows differently)."""

    display_name: str | None = None
    context_window: int | None = Field(default=None, gt=0, description="Input tokens the model takes at most")
    max_output_tokens: int | None = Field(default=None, gt=0, description="Tokens one reply may have at most")


class ManagementConfig(_Strict):
    allow_remote: bool = False


class MetricsConfig(_Strict):
    open: bool = Field(default=False, description="Serve GET /metrics without the management key")


class EventsConfig(_Strict):
    queue_size: int = Field(default=2000, ge=10, le=1_000_000)
    socket: str | None = None


class LedgerConfig(_Strict):
    max_backlog_rows: int = Field(
        default=20_000, ge=100, description="Rows held in memory while the ledger cannot be written (at start-up)"
    )
    max_journal_mb: float = Field(
        default=1024.0, gt=0, description="Disk the record journal may fill while the database is away (at start-up)"
    )


def _check_server(value: str | None, schemes: tuple[str, ...]) -> str | None:
    """A server URL without a password, or a reference to one that may carry it (never echoed back)."""
    if value is None or SECRET_REF.match(value):
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        parts, password = None, None
    if parts is None or parts.scheme not in schemes or not (parts.hostname or parts.path):
        raise ValueError(f"must be a {schemes[0]}:// URL, or a reference like keyring:NAME or env:VAR holding one")
    if password is not None:
        raise ValueError("this URL carries a password: keep the URL in a secret and refer to it here "
                         "(keyring:NAME or env:VAR); secrets never go in the config file")  # fmt: skip
    return value


class TeamConfig(_Strict):
    """Team mode: several replicas share PostgreSQL (durable state) and Redis (hot state). See docs/TEAM.md."""

    postgres: str | None = Field(
        default=None, description="postgresql:// URL (no password), or keyring:NAME / env:VAR holding the full URL"
    )
    redis: str | None = Field(
        default=None, description="redis:// or rediss:// URL (no password), or keyring:NAME / env:VAR holding it"
    )
    replica_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.:\-]{1,64}$", description="This replica's name; default host:port"
    )

    _pg = field_validator("postgres")(classmethod(lambda cls, v: _check_server(v, ("postgresql", "postgres"))))
    _redis = field_validator("redis")(classmethod(lambda cls, v: _check_server(v, ("redis", "rediss", "unix"))))


class RecorderConfig(_Strict):
    """The flight recorder (proxy_engine/recorder): which requests keep their four stages, and how much."""

    mode: Literal["off", "errors", "all"] = Field(
        default="errors", description="off; errors: failed and failed-over requests; all: every request"
    )
    stage_max_kb: int = Field(default=256, ge=1, description="Bytes kept per stage; a longer one is marked truncated")
    request_max_kb: int = Field(default=1024, ge=1, description="Bytes kept per request, all stages together")
    memory_max_mb: float = Field(default=64.0, gt=0, description="Bytes held by all requests in flight together")
    max_total_mb: float = Field(default=256.0, gt=0, description="Captures on disk at most; the oldest go first")
    max_age_days: float = Field(default=7.0, gt=0, description="Captures older than this are deleted")
    queue_size: int = Field(default=64, ge=1, description="Captures waiting for the writer; more are dropped")
    prune_every_s: float = Field(default=60.0, gt=0, description="How often retention runs")

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        """YAML reads a bare `off` as false; `mode: off` means the recorder is off."""
        return "off" if v is False else v


Candidates = dict[str, str] | list[str]


class FriendlyModel(_Strict):
    """A friendly name with options: `{candidates: {...} or [...], allow_paid_fallback: true}`."""

    candidates: Candidates
    allow_paid_fallback: bool = Field(
        default=False, description="Failover may go from a subscription or free provider to a paid one"
    )


# WEBHOOK_EVENTS: the event types a webhook may ask for (matched as strings, `quota.alert` included).
WEBHOOK_EVENTS = ("budget.alert", "quota.alert", "credential.cooldown", "auth.changed")


class WebhookConfig(_Strict):
    """A URL that receives a signed JSON POST for each of `events` (see `proxy_engine/webhooks/`)."""

    url: str
    secret: str = Field(description="HMAC-SHA256 signing secret, as a reference: keyring:NAME or env:VAR")
    events: list[str] = Field(default_factory=lambda: ["budget.alert", "quota.alert", "credential.cooldown"])

    _ref = field_validator("secret")(classmethod(lambda cls, v: _check_ref(v)))

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; one of {', '.join(WEBHOOK_EVENTS)}")
        return events


class InboundConfig(_Strict):
    """Limits on reading requests from clients; none applies to writing a reply, so long streams are safe."""

    header_timeout_s: float = Field(default=30.0, gt=0, description="A request's headers must arrive within this")
    body_timeout_s: float = Field(default=120.0, gt=0, description="A request's body must arrive within this")
    max_connections: int = Field(default=1024, ge=1, description="Open client connections at most; more are closed")


class Config(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8317, ge=0, le=65535)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, Candidates | FriendlyModel] = Field(default_factory=dict)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    thinking_budget: int | None = Field(default=None, ge=0)
    clients: list[ClientConfig] = Field(default_factory=list)
    budgets: BudgetConfig = Field(default_factory=BudgetConfig)
    quota: QuotaConfig = Field(default_factory=QuotaConfig)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    model_info: dict[str, ModelListing] = Field(
        default_factory=dict, description="Model-list facts by friendly name, provider/model or upstream model"
    )
    max_body_mb: float = Field(default=32.0, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    management: ManagementConfig = Field(default_factory=ManagementConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    recorder: RecorderConfig = Field(default_factory=RecorderConfig)
    team: TeamConfig | None = Field(default=None, description="Team mode (read at start-up); absent: one engine")
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    inbound: InboundConfig = Field(default_factory=InboundConfig)
    amp_model_mappings: dict[str, str] = Field(
        default_factory=dict, description="Amp model name -> friendly name or provider/model"
    )
    amp_routing_mode: Literal["mappings", "openai"] = "mappings"
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    amp_upstream_url: str | None = Field(default=None, description="Where Amp's own (non-model) API calls go")
    amp_upstream_api_key: str | None = None

    _amp_ref = field_validator("amp_upstream_api_key")(classmethod(lambda cls, v: _check_ref(v)))

    @field_validator("providers")
    @classmethod
    def _kinds(cls, providers: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        for name, p in providers.items():
            if "/" in name:
                raise ValueError(f"provider name {name!r} must not contain '/'")
            if p.kind is None and KIND_ALIASES.get(name, name) not in PROVIDER_KINDS:
                raise ValueError(f"provider {name!r} needs `kind:` (one of {', '.join(PROVIDER_KINDS)})")
            kind = provider_kind(name, p)
            facts = KIND_FACTS[kind]
            if facts.needs_base_url and not p.base_url:
                raise ValueError(f"provider {name!r} is {kind} and needs base_url")
            ids = [c.cred_id for c in p.key_credentials()]
            if len(set(ids)) != len(ids):
                raise ValueError(f"provider {name!r} lists the same key twice; give each an `id`")
            if facts.login_only and ids:
                raise ValueError(f"provider {name!r} ({kind}) uses logins, not API keys: run proxypal-engine login")
        return providers

    @model_validator(mode="after")
    def _references(self) -> Config:
        for friendly, cands in self.models.items():
            for provider, _model in candidate_pairs(cands):
                if provider not in self.providers:
                    raise ValueError(f"models.{friendly} names provider {provider!r}, which is not configured")
        return self


def provider_kind(name: str, p: ProviderConfig) -> str:
    return p.kind or KIND_ALIASES.get(name, name)


def candidate_pairs(cands: Candidates | FriendlyModel) -> Iterable[tuple[str, str]]:
    """Candidates may be `{provider: model}` or `["provider/model", ...]` (repeats allowed)."""
    if isinstance(cands, FriendlyModel):
        cands = cands.candidates
    if isinstance(cands, dict):
        yield from cands.items()
        return
    for item in cands:
        provider, sep, model = item.partition("/")
        if not sep or not model:
            raise ValueError(f"candidate {item!r} must be 'provider/model'")
        yield provider, model


def is_loopback(host: str) -> bool:
    """Only a loopback IP literal, `localhost` or `*.localhost` (RFC 6761) is this machine for sure.

    A name that merely starts with `127.` (`127.0.0.1.evil.example`) is anyone's.
    """
    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


# ---- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 1}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}


class ConfigError(Exception):
    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    path: Path | None
    text: str


def parse_config_text(text: str, filename: str = "<config>") -> Config:
    """Validate YAML text against the schema; raise ConfigError with line numbers."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError([ConfigIssue(filename, line, f"invalid YAML: {problem}")]) from None
    except RecursionError:
        raise ConfigError([ConfigIssue(filename, 1, "invalid YAML: nested too deeply")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(filename, 1, "the top level must be a mapping of settings")])
    try:
        return Config.model_validate(data)
    except RecursionError:
        raise ConfigError([ConfigIssue(filename, 1, "config: nested too deeply")]) from None
    except ValidationError as e:
        issues = []
        for err in e.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal")))]
            where = ".".join(str(p) for p in loc) or "config"
            msg = err["msg"].removeprefix("Value error, ")
            issues.append(ConfigIssue(filename, _line_of(node, loc), f"{where}: {msg}"))
        raise ConfigError(issues) from None


def load_config(path: Path | None) -> LoadedConfig:
    """Load the file, or the embedded defaults when there is none yet."""
    if path is None or not path.exists():
        return LoadedConfig(parse_config_text(DEFAULT_CONFIG_TEXT), None, DEFAULT_CONFIG_TEXT)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([ConfigIssue(str(path), None, f"cannot read: {e}")]) from None
    return LoadedConfig(parse_config_text(text, str(path)), path, text)


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a 1-based line."""
    best = node
    for part in loc:
        if isinstance(best, yaml.MappingNode):
            nxt = next((v for k, v in best.value if k.value == str(part)), None)
        elif isinstance(best, yaml.SequenceNode) and isinstance(part, int) and part < len(best.value):
            nxt = best.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        best = nxt
    return best.start_mark.line + 1 if best is not None else None
