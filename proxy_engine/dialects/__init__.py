"""Inbound wire formats: byte-level body edits, SSE framing, usage taps and stream error events."""
