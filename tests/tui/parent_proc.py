"""A stand-in for the TUI process in orphan tests: `python -m tests.tui.parent_proc CONFIG [detach]`.

It starts the real engine through the TUI's own `EngineSupervisor` (so with the same command line,
`--exit-with-parent` included), prints `ready <engine pid>` once the engine said hello and answered
/healthz, then either waits to be killed or, with `detach`, detaches as the TUI's ctrl+d does and exits.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from proxy_engine.paths import resolve_paths
from proxypal_tui.core.engine_state import EngineState, EngineStatus
from proxypal_tui.core.supervisor import EngineSupervisor, SupervisorOptions


async def main(config: Path, detach: bool) -> int:
    ready = asyncio.Event()

    def on_status(status: EngineStatus) -> None:
        if status.state is EngineState.READY:
            ready.set()
        elif status.state in (EngineState.FAILED, EngineState.BLOCKED):
            print(f"failed {status.message}", flush=True)

    def on_events(_events: list) -> None:
        asyncio.get_running_loop().call_soon(sup.pump.done)

    sup = EngineSupervisor(SupervisorOptions(config_path=config, paths=resolve_paths(config)), on_status, on_events)
    loop_task = asyncio.ensure_future(sup.run())
    await ready.wait()
    assert sup.process is not None
    print(f"ready {sup.process.pid}", flush=True)
    if detach:
        await sup.shutdown(stop_engine=False)
        await loop_task
        print("detached", flush=True)
        return 0
    await asyncio.Event().wait()  # until SIGKILLed
    return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), sys.argv[2:] == ["detach"])))
