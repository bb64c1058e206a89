"""`python -m proxy_engine`: how the TUI and the workers' supervisor start the engine."""

import os

from proxy_engine.heap import pause_collection

pause_collection()  # before the imports: start-up's objects live as long as the process (heap.py)
# The engine uses no pydantic plugins, and looking for them scans every installed package's metadata
# (~40 ms of start-to-ready). Set PYDANTIC_DISABLE_PLUGINS yourself (even empty) to have them looked for.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from proxy_engine.cli import main  # noqa: E402

raise SystemExit(main())
