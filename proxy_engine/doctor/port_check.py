"""Is the configured port free, held by this engine, or taken by something else (named when psutil can tell)?"""

from __future__ import annotations

from proxy_engine.config import Config
from proxy_engine.doctor.engine_client import EngineView
from proxy_engine.doctor.findings import FAIL, OK, Finding
from proxy_engine.port_holder import port_free, port_holder


def check_port(cfg: Config, engine: EngineView) -> list[Finding]:
    subject = f"{cfg.host}:{cfg.port}"
    if engine.answered:
        pid = engine.status.get("pid")
        version = engine.status.get("version", "")
        return [Finding("port", subject, OK, f"in use by this engine (pid {pid}, version {version}), answering /v0")]
    try:
        free = port_free(cfg.host, cfg.port)
    except OSError as e:
        return [
            Finding(
                "port",
                subject,
                FAIL,
                f"cannot listen there: {e.strerror or e}",
                "set `host:` to an address of this machine (127.0.0.1 for local tools)",
            )
        ]
    if free:
        return [Finding("port", subject, OK, "free: the engine can listen there (no engine runs now)")]
    holder = port_holder(cfg.port)
    who = str(holder) if holder else "another program (its process cannot be seen from this user)"
    detail = f"taken by {who}" + (f": {holder.command}" if holder and holder.command else "")
    if engine.refused_key:
        detail += "; it answers /v0 but refuses this home's management key (an engine with another PROXYPAL_HOME?)"
    return [
        Finding(
            "port",
            subject,
            FAIL,
            detail,
            "stop that program, or set another `port:` in the config (then point your tools again); "
            "ProxyPal never stops it for you",
        )
    ]
