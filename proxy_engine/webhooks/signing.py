"""How a webhook delivery is signed, and how a receiver checks it.

The body is signed whole: `X-ProxyPal-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. The body
carries `id` (the delivery, the same on every retry) and `timestamp` (when the event was queued,
also sent as `X-ProxyPal-Timestamp`), so a receiver that checks the signature can trust both:
it should refuse an old timestamp (retries span up to `MAX_RETRY_SPAN_S`) and an `id` seen before.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-ProxyPal-Signature"
TIMESTAMP_HEADER = "X-ProxyPal-Timestamp"
EVENT_HEADER = "X-ProxyPal-Event"
DELIVERY_HEADER = "X-ProxyPal-Delivery"
PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for `body`."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """A receiver's check, in constant time."""
    if not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.encode())
