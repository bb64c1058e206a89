"""rewrite_model: only the top-level model changes, every other byte of the body stays as sent."""

from __future__ import annotations

import json

from msgspec import UNSET

from proxy_engine.dialects.body import ensure_include_usage, rewrite_model


def test_top_level_model_replaced_and_other_bytes_kept() -> None:
    body = b'{"model" :  "Rush", "messages":[{"role":"user","content":"hi"}],"x":1.50}'
    out = rewrite_model(body, "Rush", "gpt-4o-mini")
    assert out == b'{"model" :  "gpt-4o-mini", "messages":[{"role":"user","content":"hi"}],"x":1.50}'


def test_same_name_nested_and_in_text_is_left_alone() -> None:
    body = json.dumps(
        {
            "messages": [{"role": "user", "content": '"model": "Rush"'}],
            "metadata": {"model": "Rush"},
            "model": "Rush",
        }
    ).encode()
    out = json.loads(rewrite_model(body, "Rush", "claude-haiku-4-5"))
    assert out["model"] == "claude-haiku-4-5"
    assert out["metadata"] == {"model": "Rush"}
    assert out["messages"][0]["content"] == '"model": "Rush"'


def test_names_needing_escapes_round_trip() -> None:
    old, new = 'we"ird\\name', "ünï/\u2028"
    body = json.dumps({"model": old, "stream": True}, ensure_ascii=False).encode()
    out = json.loads(rewrite_model(body, old, new))
    assert out == {"model": new, "stream": True}


def test_repeated_calls_use_each_pair_not_the_first() -> None:
    a = rewrite_model(b'{"model":"a"}', "a", "x")
    b = rewrite_model(b'{"model":"b"}', "b", "y")
    assert (a, b) == (b'{"model":"x"}', b'{"model":"y"}')
    assert rewrite_model(b'{"model":"a"}', "a", "a") == b'{"model":"a"}'


def test_an_agent_sized_body_is_edited_in_place_byte_for_byte() -> None:
    """Bodies past 64 KiB are spliced through a view (one allocation); the bytes are the same as slicing gives."""
    history = json.dumps([{"role": "user", "content": "word " * 30000}] * 4).encode()
    body = b'{"model": "Rush", "stream": true, "messages": ' + history + b"}"
    assert len(body) > 1 << 16
    out = rewrite_model(body, "Rush", "gpt-4o-mini")
    assert out == b'{"model": "gpt-4o-mini", "stream": true, "messages": ' + history + b"}"
    with_usage = ensure_include_usage(out, json.loads(out).get("stream_options", UNSET))
    usage_asked = b'{"stream_options":{"include_usage":true},"model": "gpt-4o-mini", "stream": true, "messages": '
    assert with_usage == usage_asked + history + b"}"
    assert type(with_usage) is bytes and type(out) is bytes


def test_model_strings_elsewhere_do_not_stop_the_one_edit() -> None:
    """`"model"` as a tool-schema property, as a value, and under another name: the top-level value changes."""
    tools = [{"name": "pick", "input_schema": {"type": "object", "properties": {"model": {"type": "string"}}}}]
    body = json.dumps({"tools": tools, "metadata": {"model": "other", "kind": "model"}, "model": "Rush"}).encode()
    out = rewrite_model(body, "Rush", "gpt-4o-mini")
    assert out == body.replace(b'"model": "Rush"', b'"model": "gpt-4o-mini"')
    assert json.loads(out)["tools"] == tools


def test_a_long_history_after_the_model_key_is_kept_byte_for_byte() -> None:
    history = json.dumps([{"role": "user", "content": 'say "model": "Rush" ' * 2000}] * 20).encode()
    body = b'{"max_tokens": 32, "messages": ' + history + b', "model": "Rush"}'
    out = rewrite_model(body, "Rush", "claude-haiku-4-5")
    assert out == b'{"max_tokens": 32, "messages": ' + history + b', "model": "claude-haiku-4-5"}'
