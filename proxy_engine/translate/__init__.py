"""Cross-dialect translation: OpenAI chat/Responses/legacy completions, Anthropic Messages and Gemini.

Every dialect decodes into one internal model (ir) and encodes from it; streams are translated
event by event by a stateful per-request encoder.
"""

from .errors import TranslationError, error_body, error_payload
from .estimate import ESTIMATE_HEADER, count_tokens_response, estimate_input_tokens
from .passthrough import might_need_sanitizing, sanitize_passthrough
from .translator import DIALECTS, StreamTranslator, Translator, get_translator

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
