"""Webhooks: signed JSON POSTs of chosen events (`budget.alert`, `quota.alert`, `credential.cooldown`,
`auth.changed`) to the URLs in the config's `webhooks:`, retried with backoff, never on the request path.

- `dispatcher.py`: `WebhookDispatcher`, a tap on the event bus that follows the config.
- `target.py`: `WebhookTarget`, one URL's bounded queue and its sending task.
- `signing.py`: the signature scheme (HMAC-SHA256 of the body) and a receiver's check.
"""

from __future__ import annotations

from proxy_engine.webhooks.dispatcher import WebhookDispatcher
from proxy_engine.webhooks.signing import verify

__all__ = ["WebhookDispatcher", "verify"]
