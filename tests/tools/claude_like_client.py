"""Run as its own process with only HOME set: reads ~/.claude/settings.json the way Claude Code does
(the `env` block becomes the process environment) and asks the proxy for an answer with the official
anthropic SDK, through the beta Messages endpoint Claude Code uses (POST /v1/messages?beta=true).

Prints one JSON line: {"text": ..., "model": ..., "base_url": ...}.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import anthropic


def main() -> None:
    settings = json.loads((Path.home() / ".claude" / "settings.json").read_text(encoding="utf-8"))
    os.environ.update({k: str(v) for k, v in settings.get("env", {}).items()})
    client = anthropic.Anthropic(max_retries=0, timeout=20)  # ANTHROPIC_BASE_URL + ANTHROPIC_AUTH_TOKEN
    model = (
        os.environ.get("ANTHROPIC_MODEL")
        or os.environ.get("ANTHROPIC_DEFAULT_SONNET_MODEL")
        or os.environ.get("ANTHROPIC_DEFAULT_OPUS_MODEL")
        or "claude-sonnet-4-6"
    )
    message = client.beta.messages.create(
        model=model,
        max_tokens=64,
        messages=[{"role": "user", "content": "Say hello."}],
        extra_query={"beta": "true"},  # as Claude Code sends it
    )
    text = "".join(block.text for block in message.content if block.type == "text")
    print(json.dumps({"text": text, "model": model, "base_url": str(client.base_url)}))


if __name__ == "__main__":
    main()
