"""What must survive a request's translation: system prompts, sampling and limits, images and documents."""

from __future__ import annotations

import pytest

from proxy_engine.translate import TranslationError, get_translator
from tests.translate.kit import PNG_1PX, UP_MODEL, validate_upstream


def tr_request(
    client: str,
    upstream: str,
    body: dict,
    *,
    model: str | None = None,
    stream: bool = False,
    budget: int | None = None,
) -> tuple[dict, list[str]]:
    tr = get_translator(client, upstream)
    assert tr is not None
    up = tr.request(body, model=model or UP_MODEL[upstream], stream=stream, thinking_budget=budget)
    validate_upstream(upstream, up)
    return up, tr.warnings


def user(text: str) -> dict:
    return {"role": "user", "content": text}


# ---- system prompts ----


def test_claude_code_mid_conversation_system_messages() -> None:
    body = {
        "model": "m",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "messages": [
            user("hi"),
            {"role": "assistant", "content": "hello"},
            {"role": "system", "content": "Reminder: be careful."},
            user("go on"),
        ],
    }
    chat, _ = tr_request("anthropic", "openai_chat", body)
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant", "system", "user"]
    assert chat["messages"][3]["content"] == "Reminder: be careful."
    gem, _ = tr_request("anthropic", "gemini", body)
    assert gem["systemInstruction"]["parts"][0]["text"] == "You are Claude Code."
    assert gem["contents"][-1]["role"] == "user"
    texts = [p["text"] for p in gem["contents"][-1]["parts"]]
    assert texts == ["<system>\nReminder: be careful.\n</system>", "go on"]
    resp, _ = tr_request("anthropic", "openai_responses", body)
    assert resp["instructions"] == "You are Claude Code."
    assert resp["input"][2] == {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": "Reminder: be careful."}],
    }


def test_chat_system_and_developer_messages_to_anthropic() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Rule one."},
            {"role": "developer", "content": "Rule two."},
            user("hi"),
            {"role": "assistant", "content": "yo"},
            {"role": "system", "content": "Later rule."},
            user("next"),
        ],
    }
    up, _ = tr_request("openai_chat", "anthropic", body)
    assert [b["text"] for b in up["system"]] == ["Rule one.", "Rule two."]
    assert up["messages"][-1]["content"] == [
        {"type": "text", "text": "<system>\nLater rule.\n</system>"},
        {"type": "text", "text": "next"},
    ]


def test_codex_request_without_instructions() -> None:
    body = {
        "model": "gpt-5-codex",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix the bug"}]}],
    }
    up, _ = tr_request("openai_responses", "anthropic", body)
    assert "system" not in up
    assert up["messages"] == [{"role": "user", "content": [{"type": "text", "text": "fix the bug"}]}]


# ---- sampling, limits, stop, user ----


@pytest.mark.parametrize("upstream", ["anthropic", "gemini", "openai_responses"])
def test_sampling_limits_and_stop_from_chat(upstream: str) -> None:
    body = {
        "model": "m",
        "messages": [user("hi")],
        "max_tokens": 321,
        "temperature": 0.25,
        "top_p": 0.8,
        "stop": ["END", "STOP"],
        "user": "alice",
    }
    up, warnings = tr_request(
        "openai_chat", upstream, body, model="gpt-4.1" if upstream == "openai_responses" else None
    )
    if upstream == "anthropic":
        assert (up["max_tokens"], up["temperature"], up["top_p"]) == (321, 0.25, 0.8)
        assert up["stop_sequences"] == ["END", "STOP"] and up["metadata"] == {"user_id": "alice"}
    elif upstream == "gemini":
        assert up["generationConfig"] == {
            "maxOutputTokens": 321,
            "temperature": 0.25,
            "topP": 0.8,
            "stopSequences": ["END", "STOP"],
        }
    else:
        assert (up["max_output_tokens"], up["temperature"], up["top_p"], up["user"]) == (
            321,
            0.25,
            0.8,
            "alice",
        )
        assert "stop sequences dropped: the Responses API has none" in warnings


def test_anthropic_metadata_and_sampling_to_chat() -> None:
    body = {
        "model": "m",
        "max_tokens": 50,
        "messages": [user("hi")],
        "metadata": {"user_id": "bob"},
        "temperature": 0.1,
        "top_k": 5,
        "stop_sequences": ["x"],
    }
    up, _ = tr_request("anthropic", "openai_chat", body)
    assert (up["user"], up["max_tokens"], up["temperature"], up["stop"]) == ("bob", 50, 0.1, ["x"])
    gem, _ = tr_request("anthropic", "gemini", body)
    assert gem["generationConfig"]["topK"] == 5


def test_anthropic_needs_max_tokens_and_a_temperature_in_range() -> None:
    up, _ = tr_request(
        "openai_chat",
        "anthropic",
        {"model": "m", "messages": [user("hi")], "temperature": 1.7},
        model="claude-3-5-haiku-20241022",
    )
    assert up["max_tokens"] == 8192 and up["temperature"] == 1.0
    up, _ = tr_request("openai_chat", "anthropic", {"model": "m", "messages": [user("hi")]}, model="claude-3-haiku")
    assert up["max_tokens"] == 4096


def test_openai_reasoning_models_get_no_temperature_and_max_completion_tokens() -> None:
    body = {"model": "m", "max_tokens": 100, "messages": [user("hi")], "temperature": 0.2}
    up, _ = tr_request("anthropic", "openai_chat", body, model="o3-mini")
    assert "temperature" not in up and up["max_completion_tokens"] == 100


# ---- images and documents ----


def test_image_urls_and_base64_reach_every_target() -> None:
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                ],
            }
        ],
    }
    an, _ = tr_request("openai_chat", "anthropic", body)
    assert an["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
    ]
    gm, _ = tr_request("openai_chat", "gemini", body)
    assert gm["contents"][0]["parts"][1:] == [
        {"inlineData": {"mimeType": "image/png", "data": PNG_1PX}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/a.jpg"}},
    ]
    rs, _ = tr_request("openai_chat", "openai_responses", body)
    assert [p["image_url"] for p in rs["input"][0]["content"][1:]] == [
        f"data:image/png;base64,{PNG_1PX}",
        "https://example.com/a.jpg",
    ]


def test_gemini_url_safe_base64_becomes_standard() -> None:
    body = {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "ab-_"}}]}]}
    up, _ = tr_request("gemini", "anthropic", body)
    assert up["messages"][0]["content"][0]["source"]["data"] == "ab+/"


PDF = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlIC9QYWdlPj4KZW5kb2JqCg=="


def test_pdf_documents_where_supported() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                        "title": "spec.pdf",
                    },
                    {"type": "text", "text": "summarize"},
                ],
            }
        ],
    }
    chat, _ = tr_request("anthropic", "openai_chat", body)
    assert chat["messages"][0]["content"][0] == {
        "type": "file",
        "file": {"filename": "spec.pdf", "file_data": f"data:application/pdf;base64,{PDF}"},
    }
    gem, _ = tr_request("anthropic", "gemini", body)
    assert gem["contents"][0]["parts"][0] == {"inlineData": {"mimeType": "application/pdf", "data": PDF}}
    rs, _ = tr_request("anthropic", "openai_responses", body)
    assert rs["input"][0]["content"][0]["type"] == "input_file"
    back, _ = tr_request(
        "openai_responses",
        "anthropic",
        {
            "model": "m",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "input_file",
                            "filename": "x.pdf",
                            "file_data": f"data:application/pdf;base64,{PDF}",
                        }
                    ],
                }
            ],
        },
    )
    assert back["messages"][0]["content"][0]["source"] == {
        "type": "base64",
        "media_type": "application/pdf",
        "data": PDF,
    }


def test_text_documents_become_text_for_chat() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "notes here"},
                    }
                ],
            }
        ],
    }
    chat, _ = tr_request("anthropic", "openai_chat", body)
    assert chat["messages"][0]["content"] == "notes here"


@pytest.mark.parametrize(
    ("client", "upstream", "body", "needle"),
    [
        (
            "anthropic",
            "openai_chat",
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "document", "source": {"type": "url", "url": "https://x/y.pdf"}}],
                    }
                ],
            },
            "by URL",
        ),
        (
            "openai_responses",
            "anthropic",
            {
                "model": "m",
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_file", "file_data": "data:application/vnd.ms-excel;base64,AAAA"}],
                    }
                ],
            },
            "vnd.ms-excel",
        ),
        (
            "openai_chat",
            "anthropic",
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-123"}}]}],
            },
            "file_id",
        ),
        (
            "openai_chat",
            "gemini",
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}],
                    }
                ],
            },
            "audio",
        ),
        (
            "anthropic",
            "gemini",
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f1"}}],
                    }
                ],
            },
            "file_id",
        ),
    ],
)
def test_what_the_target_cannot_represent_is_a_clear_400(client: str, upstream: str, body: dict, needle: str) -> None:
    tr = get_translator(client, upstream)
    with pytest.raises(TranslationError) as info:
        tr.request(body, model="m", stream=False)
    assert info.value.status == 400 and needle in info.value.message
