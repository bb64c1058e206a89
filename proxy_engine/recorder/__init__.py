"""The flight recorder: each request's four stages, kept by mode, stored redacted off the request path.

`flight_recorder` is what the request path calls; `capture` holds one request's stages in memory;
`tapped_response` copies a client stream as it is written; `document` and `redaction` turn a kept
capture into the redacted JSON that `store` writes (gzip files indexed in SQLite) from `writer`'s
thread, which also prunes by age and size. `api` serves `/v0/requests/{id}/capture`, `/v0/captures`
and replays; `replay` and `reply_summary` build the diff; `cli` prints, replays and exports.
"""
