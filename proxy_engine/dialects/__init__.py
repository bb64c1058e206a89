"""Inbound wire formats: just enough parsing to route, plus usage sniffing and error shapes."""

from proxy_engine.dialects.errors import error_body, stream_error_event

DIALECTS = ("openai_chat", "openai_responses", "openai_completions", "anthropic", "gemini")
__all__ = ["DIALECTS", "error_body", "stream_error_event"]
