"""What a model list says of each name: its display name, context window and max output tokens.

Taken from the config's `model_info` (by the listed name, then `provider/model`, then the upstream
model), else from genai-prices' catalogue (model names and context windows; it has no output
limits), never from a table kept here. A friendly name that fails over across models reports the
smallest window and output limit among its candidates, which every one of them can take.

`describe` may load genai-prices, so it blocks: the model-list route runs it in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from proxy_engine.config import ModelListing
from proxy_engine.providers.registry import price_provider
from proxy_engine.routing import Candidate, UnknownModel
from proxy_engine.runtime import Runtime


@dataclass(frozen=True, slots=True)
class ListedModel:
    id: str
    display_name: str
    context_window: int | None = None
    max_output_tokens: int | None = None


@lru_cache(maxsize=4096)
def catalogue_entry(provider_id: str | None, model: str) -> tuple[str | None, int | None]:
    """(name, context window) of a model in genai-prices' catalogue; (None, None) when it is not there."""
    from genai_prices.data_snapshot import get_snapshot  # loaded on first use, as in usage/prices.py

    try:
        _, info = get_snapshot().find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None, None
    return info.name, info.context_window


def describe(rt: Runtime, names: list[str]) -> list[ListedModel]:
    """Each listed name with what is known of it."""
    return [_describe_one(rt, name) for name in names]


def _describe_one(rt: Runtime, name: str) -> ListedModel:
    try:
        candidates = rt.router.resolve(name)
    except UnknownModel:
        candidates = []
    overrides = rt.config.model_info
    windows: list[int] = []
    outputs: list[int] = []
    shown: str | None = None
    for cand in candidates:
        own = _override(overrides, cand)
        cat_name, cat_window = catalogue_entry(price_provider(cand.provider.kind), cand.model)
        window = own.context_window if own and own.context_window else cat_window
        if window:
            windows.append(window)
        if own and own.max_output_tokens:
            outputs.append(own.max_output_tokens)
        if shown is None:
            shown = (own.display_name if own else None) or cat_name or cand.model
    mine = overrides.get(name)
    display = (mine.display_name if mine else None) or _display(name, candidates, shown)
    return ListedModel(
        id=name,
        display_name=display,
        context_window=(mine.context_window if mine else None) or (min(windows) if windows else None),
        max_output_tokens=(mine.max_output_tokens if mine else None) or (min(outputs) if outputs else None),
    )


def _override(overrides: dict[str, ModelListing], cand: Candidate) -> ModelListing | None:
    return overrides.get(f"{cand.provider.name}/{cand.model}") or overrides.get(cand.model)


def _display(name: str, candidates: list[Candidate], first: str | None) -> str:
    """`Smart (Claude Sonnet 4.6)` for a friendly name, `Claude Sonnet 4.6 (anthropic)` for `provider/model`."""
    if not candidates or first is None:
        return name
    if len(candidates) == 1 and name == f"{candidates[0].provider.name}/{candidates[0].model}":
        return f"{first} ({candidates[0].provider.name})"
    return name if first == name else f"{name} ({first})"
