"""Hypothesis strategies: wrong types anywhere in a body, malformed bytes, hostile headers, queries and paths."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def paths_in(obj: Any, here: tuple = ()) -> list[tuple]:
    """Every place in a JSON tree (dict keys and list indexes), the root included."""
    out = [here]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths_in(v, (*here, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths_in(v, (*here, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    """`body` with 1-3 values replaced by a value of any JSON type, or removed."""
    body = copy.deepcopy(body)
    for _ in range(draw(st.integers(1, 3))):
        places = paths_in(body)
        place = draw(st.sampled_from(places))
        if not place:
            return draw(JSON_VALUES)
        parent = body
        for step in place[:-1]:
            parent = parent[step]
        if draw(st.integers(0, 4)) == 0 and isinstance(parent, dict):
            del parent[place[-1]]
        else:
            parent[place[-1]] = draw(JSON_VALUES)
    return body


def _nested(depth: int, field: str = "extra") -> bytes:
    return b'{"model": "Rush", "' + field.encode() + b'": ' + b"[" * depth + b"]" * depth + b"}"


# Header values may hold any byte HTTP allows (RFC 9110 5.5: no CTLs); aiohttp's parser refuses the rest
# before any route runs, and raw non-ASCII in a path or query is refused the same way, so the fuzz
# sends those percent-encoded.
HEADER_BYTES = st.binary(min_size=1, max_size=40).map(
    lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F).strip() or b"k"
)

# Bodies no well-formed client sends: not JSON, not an object, not UTF-8, nested past the parser, huge.
MALFORMED_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b'"text"',
            b"42",
            b"{",
            b'{"model":',
            b"{}",
            b'{"model": null}',
            b'{"model": ["Rush"]}',
            b'{"model": {"a": 1}}',
            b'{"model": 1e999}',
            b'{"model": "Rush",}',
            b'{"model": "\\ud800", "messages": []}',
            b'{"model": "Rush\xff\xfe", "messages": []}',
            b'{"model": "Rush", "messages": [{"role": "user", "content": "\xc3\x28"}]}',
            b'\xef\xbb\xbf{"model": "Rush"}',
            b'{"model": "Rush"}\x00',
            _nested(500),
            _nested(995),
            _nested(5000),
            _nested(100_000),
            b'{"model": "' + b"m" * 300_000 + b'"}',
            b'{"model": "Rush", "messages": [{"role": "user", "content": "' + b"x" * 900_000 + b'"}]}',
            b'{"model": "Rush", "pad": "' + b"x" * 1_200_000 + b'"}',
        ]
    ),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)

HOSTILE_HEADERS = st.lists(
    st.sampled_from(
        [
            (b"x-api-key", b"caf\xe9"),
            (b"Authorization", b"Bearer \xff\xfe"),
            (b"Authorization", b"Basic Zm9vOmJhcg=="),
            (b"x-goog-api-key", b""),
            (b"Origin", b"http://evil.example"),
            (b"Sec-Fetch-Site", b"cross-site"),
            (b"Content-Type", b"text/plain"),
            (b"Content-Type", b"application/json; charset=latin-1"),
            (b"Content-Encoding", b"gzip"),
            (b"Content-Encoding", b"deflate"),
            (b"Connection", b"x-api-key, anthropic-version"),
            (b"anthropic-version", b"\xff"),
            (b"anthropic-beta", b"a," * 2000),
            (b"User-Agent", b"caf\xe9/\xff"),
            (b"X-Stainless-Lang", b"\xc3\x28"),
            (b"OpenAI-Organization", b"org-x"),
            (b"Forwarded", b"for=1.2.3.4"),
            (b"X-Forwarded-For", b"1.2.3.4"),
            (b"Accept", b"text/event-stream"),
            (b"Expect", b"100-continue"),
            (b"X-Long", b"v" * 7000),
            (b"Cookie", b"a=\xff"),
        ]
    ),
    max_size=4,
)
HOSTILE_QUERIES = st.sampled_from(
    [
        b"",
        b"?alt=sse",
        b"?alt=json",
        b"?alt=%ff",
        b"?key=wrong",
        b"?key=%ff%fe",
        b"?fields=candidates",
        b"?%ff=1",
        b"?a=%ff%fe",
        b"?beta=true",
        b"?stream=true&alt=media",
        b"?" + b"q=1&" * 500,
        b"?key",
    ]
)
# Paths next to the routes: (path, dialect its errors have, or None where no route serves it).
HOSTILE_PATHS = st.sampled_from(
    [
        (b"/v1beta/models/%ff%fe:generateContent", "gemini"),
        (b"/v1beta/models/:generateContent", "gemini"),
        (b"/v1beta/models/Rush:noSuchMethod", "gemini"),
        (b"/v1beta/models/Rush", "gemini"),
        (b"/v1/models/Rush:countTokens:countTokens", "gemini"),
        (b"/v1beta/models/" + b"g" * 5000 + b":countTokens", "gemini"),
        (b"/v1beta/models/..%2f..%2fv0%2fstatus:generateContent", "gemini"),
        (b"/v1/messages/../../v0/status", None),
        (b"/v1/chat/completions/", None),
        (b"/v1//chat/completions", None),
        (b"/%ff", None),
        (b"/%C0%AE%C0%AE/v0/status", None),
        (b"/api/provider/%2e%2e/v1/messages", None),
        (b"/api/provider/x/v1beta1/a/b", None),
        (b"/api/provider/google/v1beta1/publishers/google/models/%ff:generateContent", "gemini"),
        (b"/api/../v0/status", None),
        (b"/api/%2e%2e/%2e%2e/v0/status", None),
        (b"/api/a\\..\\b", None),
        (b"/v0/../healthz", None),
        (b"/" + b"a" * 7000, None),
    ]
)
