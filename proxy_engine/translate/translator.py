"""The translator the proxy calls: one per request, client dialect on one side, upstream on the other."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import (
    anthropic,
    bedrock,
    code_assist,
    gemini,
    openai_chat,
    openai_completions,
    openai_responses,
    openai_responses_out,
)
from .anthropic_stream import AnthropicStreamDecoder, AnthropicStreamEncoder
from .bedrock_stream import BedrockStreamDecoder
from .code_assist import CodeAssistStreamDecoder
from .context import Context
from .delta_templates import DeltaSpec, DeltaTemplates
from .errors import TranslationError, UpstreamMalformed, translate_error
from .gemini_stream import GeminiStreamDecoder, GeminiStreamEncoder
from .json_text import loads
from .openai_chat_stream import ChatStreamDecoder, ChatStreamEncoder
from .openai_completions import CompletionsStreamDecoder, CompletionsStreamEncoder
from .openai_responses_stream import ResponsesStreamDecoder, ResponsesStreamEncoder
from .stream_base import BlockEncoder

log = logging.getLogger(__name__)

# What a structurally unexpected body raises while being read; reported as a TranslationError.
_MALFORMED = (AttributeError, KeyError, TypeError, ValueError, IndexError)
DIALECTS = (
    "openai_chat",
    "openai_responses",
    "openai_completions",
    "anthropic",
    "gemini",
    "bedrock",
    "gemini_code_assist",
)


@dataclass(frozen=True, slots=True)
class Codec:
    decode_request: Callable[[dict, Context], Any]
    encode_request: Callable[..., dict]
    decode_response: Callable[[dict, Context], Any]
    encode_response: Callable[[Any, Context, str], dict]
    stream_decoder: Callable[[Context], Any]
    stream_encoder: Callable[[Context, str, bool], BlockEncoder]


_CODECS = {
    "openai_chat": Codec(
        openai_chat.decode_request,
        openai_chat.encode_request,
        openai_chat.decode_response,
        openai_chat.encode_response,
        ChatStreamDecoder,
        lambda ctx, model, sse: ChatStreamEncoder(ctx, model),
    ),
    "openai_responses": Codec(
        openai_responses.decode_request,
        openai_responses.encode_request,
        openai_responses_out.decode_response,
        openai_responses_out.encode_response,
        ResponsesStreamDecoder,
        lambda ctx, model, sse: ResponsesStreamEncoder(ctx, model),
    ),
    "openai_completions": Codec(
        openai_completions.decode_request,
        openai_completions.encode_request,
        openai_completions.decode_response,
        openai_completions.encode_response,
        CompletionsStreamDecoder,
        lambda ctx, model, sse: CompletionsStreamEncoder(ctx, model),
    ),
    "anthropic": Codec(
        anthropic.decode_request,
        anthropic.encode_request,
        anthropic.decode_response,
        anthropic.encode_response,
        AnthropicStreamDecoder,
        lambda ctx, model, sse: AnthropicStreamEncoder(ctx, model),
    ),
    "gemini": Codec(
        gemini.decode_request,
        gemini.encode_request,
        gemini.decode_response,
        gemini.encode_response,
        GeminiStreamDecoder,
        GeminiStreamEncoder,
    ),
    # Upstream-only dialects: their client-side slots raise TranslationError.
    "bedrock": Codec(
        bedrock.upstream_only,
        bedrock.encode_request,
        bedrock.decode_response,
        bedrock.upstream_only,
        BedrockStreamDecoder,
        bedrock.upstream_only,
    ),
    "gemini_code_assist": Codec(
        code_assist.upstream_only,
        code_assist.encode_request,
        code_assist.decode_response,
        code_assist.upstream_only,
        CodeAssistStreamDecoder,
        code_assist.upstream_only,
    ),
}


def codec(dialect: str) -> Codec:
    try:
        return _CODECS[dialect]
    except KeyError:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}") from None


class StreamTranslator:
    """Upstream stream events in, client-framed bytes out; nothing is held back longer than a block needs."""

    def __init__(self, decoder: Any, encoder: BlockEncoder, ctx: Context) -> None:
        self._decoder = decoder
        self._encoder = encoder
        self._ctx = ctx
        # Token events matched by bytes instead of parsed whole, for decoders that can say which are plain.
        self._templates = DeltaTemplates() if hasattr(decoder, "delta_spec") else None

    def feed(self, event: dict) -> bytes:
        if not isinstance(event, dict):
            return b""
        try:
            events = self._decoder.feed(event)
        except _MALFORMED as exc:
            # One malformed event must not end the client's stream; say so once and go on.
            self._ctx.warn(f"skipped a malformed upstream stream event ({type(exc).__name__})")
            log.warning("skipped malformed %s stream event: %s", self._ctx.upstream, exc)
            return b""
        return self._encoder.feed(events)

    def feed_data(self, data: bytes) -> bytes:
        """One SSE event's `data:` payload; `[DONE]` and empty payloads are skipped.

        A payload that is not JSON raises `UpstreamMalformed`: skipping it would turn a broken
        upstream into an empty reply that looks like a success.
        """
        if not data or data == b"[DONE]":
            return b""
        templates = self._templates
        if templates is not None:
            hit = templates.match(data)
            if hit is not None:
                spec, value = hit
                encoder = self._encoder
                direct = spec.text_only and encoder.block == "text" and not encoder.done
                if direct and (spec.guard is None or spec.guard(spec)):
                    return encoder.text(value) if value else b""  # what feed([TextDelta(value)]) gives
                events = self._decoder.delta_events(spec, value)
                if events is not None:
                    return encoder.feed(events)
        try:
            event = loads(data)
        except ValueError:
            raise UpstreamMalformed(f"a stream event is not JSON: {data[:80]!r}") from None
        out = self.feed(event)
        if templates is not None and templates.learning and isinstance(event, dict):
            spec = self._decoder.delta_spec(event)
            if spec is not None:
                templates.learn(data, event, spec)
        return out

    def text_template(self) -> DeltaSpec | None:
        """The first learned template of plain text deltas (see `literal_text`), once there is one."""
        templates = self._templates
        if templates is None:
            return None
        for spec in templates.specs:
            if spec.text_only:
                return spec
        return None

    def literal_text(self, spec: DeltaSpec, literal: bytes) -> bytes | None:
        """The client bytes for an event of `spec` whose string is `literal`, a JSON string literal with
        nothing escaped, in valid UTF-8; None when the encoder is not in the state where such an event
        is text and nothing else (`feed_data` then decides, as it always did)."""
        encoder = self._encoder
        if encoder.block == "text" and not encoder.done and (spec.guard is None or spec.guard(spec)):
            return encoder.text_literal(literal) if len(literal) > 2 else b""  # what feed_data gives
        return None

    def finish(self) -> bytes:
        return self._encoder.feed(self._decoder.finish()) + self._encoder.finish()

    def fail(self, message: str, status: int = 502) -> bytes:
        return self._encoder.fail(message, status)

    @property
    def usage(self) -> dict | None:
        return self._encoder.usage.as_dict() if self._encoder.saw_usage else None

    @property
    def error(self) -> tuple[int, str] | None:
        """(status, message) when the stream ended in an error event (the upstream's, or `fail`)."""
        return self._encoder.error

    @property
    def finish_reason(self) -> str | None:
        return self._encoder.reason


class Translator:
    """Translate one request between two dialects; create one per request (it keeps tool-name maps)."""

    def __init__(self, client_dialect: str, upstream_dialect: str) -> None:
        self.client = codec(client_dialect)
        self.upstream = codec(upstream_dialect)
        self.client_dialect = client_dialect
        self.upstream_dialect = upstream_dialect
        self.ctx = Context(client=client_dialect, upstream=upstream_dialect)
        self.usage: dict | None = None  # of the last whole response, in IR terms (input includes cache)

    @property
    def warnings(self) -> list[str]:
        """What could not be carried over (dropped tools, stop sequences, ...), for the request log."""
        return self.ctx.warnings

    def request(self, body: dict, *, model: str, stream: bool, thinking_budget: int | None = None) -> dict:
        if not isinstance(body, dict):
            raise TranslationError("the request body must be a JSON object")
        self.ctx.model = model
        self.ctx.thinking_budget = thinking_budget
        try:
            ir = self.client.decode_request(body, self.ctx)
            if not ir.messages and not ir.system:
                raise TranslationError("the request has no messages")
            return self.upstream.encode_request(ir, self.ctx, model=model, stream=stream)
        except _MALFORMED as exc:
            log.warning("malformed %s request: %r", self.client_dialect, exc)
            raise TranslationError(f"malformed {self.client_dialect} request ({type(exc).__name__})") from exc

    def response(self, up: dict, *, model: str) -> dict:
        """`model`: the one the proxy called, named when the upstream's answer names none (the `model` rule)."""
        if not isinstance(up, dict):
            raise TranslationError("the upstream answer was not a JSON object", status=502)
        try:
            ir = self.upstream.decode_response(up, self.ctx)
            self.usage = ir.usage.as_dict() if ir.usage is not None else None
            return self.client.encode_response(ir, self.ctx, ir.model or model)
        except _MALFORMED as exc:
            log.warning("malformed %s answer: %r", self.upstream_dialect, exc)
            raise TranslationError(f"malformed answer from the upstream ({type(exc).__name__})", 502) from exc

    def stream(self, model: str, client_sse: bool = True) -> StreamTranslator:
        """`model`: the one the proxy called; the upstream's first event may name the answering one instead."""
        decoder = self.upstream.stream_decoder(self.ctx)
        encoder = self.client.stream_encoder(self.ctx, model, client_sse)
        return StreamTranslator(decoder, encoder, self.ctx)

    def error(self, status: int, upstream_body: bytes) -> tuple[int, bytes]:
        return translate_error(self.client_dialect, status, upstream_body)


def get_translator(client_dialect: str, upstream_dialect: str) -> Translator | None:
    """None when both sides speak the same dialect: the proxy passes bytes through."""
    codec(client_dialect)
    codec(upstream_dialect)
    if client_dialect == upstream_dialect:
        return None
    return Translator(client_dialect, upstream_dialect)
