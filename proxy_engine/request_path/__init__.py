"""The request path: where a model call goes from the inbound route to the client's reply.

Read it in this order:
- `routes.py`: the inbound routes, declared once as data and mounted at `/` and under Amp's
  `/api/provider/{provider}`; each route names a dialect and an action.
- `handler.py`: `handle` authenticates the client, checks budgets, parses just enough of the body
  to find the model, resolves it to candidates and builds the `Exchange` (`exchange.py`).
- `failover.py`: tries candidates in order and, within each, its credentials; waits out a
  cooldown once when it ends soon, else answers 429.
- `upstream.py`: one `Attempt`: builds URL, headers and body (through the `Provider`'s wire
  methods), makes the call and waits for the first byte; `upstream_errors.py`: an upstream's error
  status as the client gets it; `betas.py`: `anthropic-beta` flags an upstream does not take;
  `cache_breakpoints.py`: optional prompt-cache marks for Anthropic upstreams.
- `relay.py`: streams (or returns whole, or counts) the upstream reply to the client.
- `embeddings.py`: an embeddings call's upstream body and whole reply (translated by
  `translate/embeddings.py`), with its input tokens recorded.
- `drain.py`: on SIGTERM, lets model calls finish within the grace, then ends the rest properly.
- `errors.py`: `ProxyError` and error replies in the caller's dialect; `headers.py`: which headers
  travel; `model_lists.py`: the model-list shapes; `gemini_paths.py`: `models/{model}:{method}`;
  `refused_model.py`: the model a refused request named (a small body read only then), for its record.

Headers reach the client only with its first bytes, so any failure before that (an error status,
a drop, a timeout, a reply that cannot be read) can still fail over and the client always gets an
honest status.
"""
