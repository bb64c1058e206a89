"""The error every login, refresh and token lookup raises, in a module that imports nothing heavy.

The request path and the credential broker catch it on every start-up; defining it apart from the OAuth
flows (httpx, authlib) lets a proxy with only API keys run without loading them.
"""

from __future__ import annotations


class AuthError(RuntimeError):
    """A login or refresh failed. The message is safe to show and log."""
