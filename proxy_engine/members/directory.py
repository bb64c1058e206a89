"""This replica's copy of the member keys, by hash, so a request costs one SHA-256 and one dict lookup.

It is read from storage at start-up, again at once after this replica changes a key, and every few
seconds (`REFRESH_S`) so keys made or revoked by the CLI or another replica take effect everywhere.
When storage cannot be read, the last copy stays in force (and the failure is logged).
"""

from __future__ import annotations

import hmac
import time

from proxy_engine.members.keys import looks_like_member_key
from proxy_engine.storage.member_keys import MemberKey, MemberKeyStore, hash_key

REFRESH_S = 2.0


class KeyRefused(Exception):
    """A member key that cannot be used: unknown, revoked or expired (a 401 in the caller's dialect)."""


class MemberDirectory:
    def __init__(self, store: MemberKeyStore) -> None:
        self.store = store
        self._by_hash: dict[str, MemberKey] = {}
        self._by_id: dict[str, MemberKey] = {}

    async def refresh(self) -> None:
        keys = await self.store.list(include_revoked=True)
        self._by_hash = {k.key_hash: k for k in keys}
        self._by_id = {k.id: k for k in keys}

    def live_ids(self) -> set[str]:
        now = time.time()
        return {k.id for k in self._by_id.values() if k.usable(now)}

    def by_id(self, key_id: str) -> MemberKey | None:
        return self._by_id.get(key_id)

    def identify(self, presented: str | None) -> MemberKey | None:
        """The member a key belongs to; None when it is not a member key. Raises `KeyRefused`."""
        if not presented or (not self._by_hash and not looks_like_member_key(presented)):
            return None
        digest = hash_key(presented)
        found = self._by_hash.get(digest)
        if found is None or not hmac.compare_digest(found.key_hash, digest):
            if looks_like_member_key(presented):
                raise KeyRefused("this member key is not known here")
            return None
        if found.revoked_at is not None:
            raise KeyRefused("this member key was revoked")
        if found.expires_at is not None and time.time() >= found.expires_at:
            raise KeyRefused("this member key has expired")
        return found
