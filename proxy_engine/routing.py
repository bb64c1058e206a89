"""Model names to ordered upstream candidates: friendly names, `provider/model`, or bare names."""

from __future__ import annotations

from dataclasses import dataclass

from proxy_engine.config import Config, FriendlyModel, candidate_pairs
from proxy_engine.providers import Provider


@dataclass(frozen=True, slots=True)
class Candidate:
    provider: Provider
    model: str
    paid_fallback: bool = False  # its friendly name lets failover go from subscription/free to paid


class UnknownModel(LookupError):
    def __init__(self, model: str, known: list[str]) -> None:
        super().__init__(model)
        self.model, self.known = model, known


class Router:
    def __init__(self, config: Config, providers: dict[str, Provider]) -> None:
        self.providers = providers
        self.max_attempts = config.routing.retries + 1
        self._friendly = {
            name: [Candidate(providers[p], m, _allows_paid(c)) for p, m in candidate_pairs(c)]
            for name, c in config.models.items()
        }
        self._folded = {k.lower(): v for k, v in self._friendly.items()}

    def resolve(self, model: str) -> list[Candidate]:
        model = model.removeprefix("models/")
        if found := self._friendly.get(model) or self._folded.get(model.lower()):
            return found
        provider, sep, rest = model.partition("/")
        if sep and provider in self.providers and rest:
            return [Candidate(self.providers[provider], rest)]
        bare = [Candidate(p, model) for p in self.providers.values() if p.serves(model)]
        if bare:
            return bare
        raise UnknownModel(model, self.model_names())

    def model_names(self) -> list[str]:
        names = list(self._friendly)
        for p in self.providers.values():
            names.extend(f"{p.name}/{m}" for m in p.models)
        return names


def _allows_paid(entry: object) -> bool:
    return isinstance(entry, FriendlyModel) and entry.allow_paid_fallback
