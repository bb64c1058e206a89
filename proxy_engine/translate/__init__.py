"""Cross-dialect translation: OpenAI chat/Responses/legacy completions, Anthropic Messages and Gemini.

Every dialect decodes into one internal model (ir) and encodes from it; streams are translated
event by event by a stateful per-request encoder.

The names below load their module on first use (PEP 562): a proxy that only passes bytes through
never loads the codecs, and `serve` reaches ready sooner and smaller (issue #16).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .errors import TranslationError, error_body, error_payload
    from .estimate import ESTIMATE_HEADER, count_tokens_response, estimate_input_tokens
    from .passthrough import might_need_sanitizing, sanitize_passthrough
    from .translator import DIALECTS, StreamTranslator, Translator, get_translator

_HOME = {
    "TranslationError": "errors",
    "error_body": "errors",
    "error_payload": "errors",
    "ESTIMATE_HEADER": "estimate",
    "count_tokens_response": "estimate",
    "estimate_input_tokens": "estimate",
    "might_need_sanitizing": "passthrough",
    "sanitize_passthrough": "passthrough",
    "DIALECTS": "translator",
    "StreamTranslator": "translator",
    "Translator": "translator",
    "get_translator": "translator",
}

__all__ = [
    "DIALECTS",
    "ESTIMATE_HEADER",
    "StreamTranslator",
    "TranslationError",
    "Translator",
    "count_tokens_response",
    "error_body",
    "error_payload",
    "estimate_input_tokens",
    "get_translator",
    "might_need_sanitizing",
    "sanitize_passthrough",
]


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:  # a submodule (`from proxy_engine.translate import ir`) is then imported as usual
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value
