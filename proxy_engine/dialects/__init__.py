"""Wire framing shared by every dialect.

Byte-level body edits, SSE, Bedrock's binary event stream, usage taps and stream error events.
"""
