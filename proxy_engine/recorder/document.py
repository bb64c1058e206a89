"""A kept capture as the redacted JSON document that is stored, served and exported."""

from __future__ import annotations

import time
from typing import Any

from proxy_engine.record import RequestRecord
from proxy_engine.recorder.capture import Capture, Stage
from proxy_engine.recorder.redaction import redact_body, redact_headers, redact_query, redact_url
from proxy_engine.recorder.store import FORMAT


def record_meta(rec: RequestRecord, reason: str) -> dict[str, Any]:
    """What the ledger row says of the request, taken on the request path (cheap attribute reads)."""
    return {
        "id": rec.id, "ts": rec.ts_start, "status": rec.status or 500, "error_code": rec.error_code,
        "error_message": rec.error_message, "client": rec.client, "dialect_in": rec.dialect_in,
        "dialect_out": rec.dialect_out, "model_requested": rec.model_requested, "provider": rec.provider,
        "provider_kind": rec.provider_kind, "model": rec.model, "stream": rec.stream, "attempts": rec.attempts,
        "reason": reason,
    }  # fmt: skip


def stage_doc(stage: Stage) -> dict[str, Any]:
    doc: dict[str, Any] = {"stage": stage.name}
    if stage.attempt:
        doc["attempt"] = stage.attempt
    if stage.method:
        doc["method"] = stage.method
        doc["url"] = redact_url(stage.url)
        doc["query"] = redact_query(stage.query)
    if stage.status:
        doc["status"] = stage.status
    doc["headers"] = redact_headers(stage.headers)
    doc["body"] = redact_body(b"".join(stage.chunks))
    doc["bytes"] = stage.seen
    doc["truncated"] = stage.truncated
    if stage.truncated:
        doc["truncated_note"] = f"kept {stage.kept} of {stage.seen} bytes (recorder caps)"
    return doc


def capture_doc(cap: Capture, meta: dict[str, Any]) -> dict[str, Any]:
    """Redacted here, in the writer thread: nothing unredacted ever reaches a file."""
    safe_meta = {k: redact_body(v.encode()) if isinstance(v, str) else v for k, v in meta.items()}
    return {
        "format": FORMAT, "id": meta["id"], "ts": meta["ts"], "captured_at": time.time(),
        "meta": safe_meta, "stages": [stage_doc(s) for s in cap.stages],
    }  # fmt: skip
