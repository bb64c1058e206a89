"""One shape for token counts, whatever dialect reported them (the request record and the IR share it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Usage:
    """Counts as billed: see `proxy_engine.usage.upstream` for how each dialect's fields map here.

    `input_tokens` is the whole prompt, cached parts included (genai-prices counts it that way);
    `output_tokens` includes reasoning, and `reasoning_tokens` says how much of it was reasoning.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


def as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
