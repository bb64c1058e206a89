"""One shape for token counts, whatever dialect reported them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Usage:
    """`input_tokens` is the whole prompt, cached parts included (genai-prices counts it that way)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


def as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
