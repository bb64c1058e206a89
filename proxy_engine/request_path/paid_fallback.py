"""Cost classes on the failover path: a request that starts on a subscription or free provider never
moves on to a paid one unless its friendly name or that paid provider says `allow_paid_fallback: true`.

The class of the first candidate is the request's origin; a paid origin may fail over anywhere.
A request that did cross is marked (`RequestRecord.paid_fallback`, the ledger, `request.finished`).
"""

from __future__ import annotations

from proxy_engine.request_path.errors import ProxyError
from proxy_engine.routing import Candidate

PAID = "paid"


class PaidFallbackGate:
    """Decides, per candidate, whether failover may use it, and remembers what it held back."""

    __slots__ = ("held_back", "origin")

    def __init__(self, candidates: list[Candidate]) -> None:
        self.origin = candidates[0].provider.cost_class if candidates else PAID
        self.held_back: list[Candidate] = []

    def crosses(self, cand: Candidate) -> bool:
        """Would serving `cand` move this request from subscription/free into paid?"""
        return self.origin != PAID and cand.provider.cost_class == PAID

    def admits(self, cand: Candidate) -> bool:
        if not self.crosses(cand) or cand.paid_fallback or cand.provider.settings.allow_paid_fallback:
            return True
        self.held_back.append(cand)
        return False

    def explain(self, err: ProxyError, model: str | None) -> ProxyError:
        """The request's final error, saying which paid candidates were held back and how to allow them."""
        if not self.held_back:
            return err
        paid = ", ".join(dict.fromkeys(f"{c.provider.name}/{c.model}" for c in self.held_back))
        names = ", ".join(dict.fromkeys(c.provider.name for c in self.held_back))
        message = (
            f"{err.message}; paid fallback is disabled: {paid} (paid) was not tried because this request "
            f"started on a {self.origin} provider. To allow it, set `allow_paid_fallback: true` on the model "
            f"{model!r} (models: {{{model}: {{candidates: ..., allow_paid_fallback: true}}}}) or on the provider "
            f"({names})"
        )
        return ProxyError(err.status, message, "paid_fallback_disabled", err.headers)
