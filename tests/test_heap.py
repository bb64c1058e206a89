"""The engine's start-up heap: collected once, then frozen, so later collections skip it (proxy_engine/heap.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_freezing_collects_startup_garbage_then_exempts_what_lives() -> None:
    # In a child process: freezing the pytest process would leave its objects uncollected for every later test.
    code = textwrap.dedent(
        """
        import gc, weakref
        from proxy_engine.heap import YOUNG_THRESHOLD, freeze_startup_heap

        class Node:
            pass

        garbage = Node(); garbage.me = garbage  # a cycle only the collector can free
        dead = weakref.ref(garbage); del garbage
        kept = Node(); kept.me = kept
        gc.disable()  # nothing but the freeze may collect
        before = gc.get_freeze_count()
        freeze_startup_heap()
        assert dead() is None, "start-up garbage is collected before the freeze"
        assert gc.get_freeze_count() > before and gc.get_freeze_count() > 1000
        assert not any(o is kept for o in gc.get_objects()), "what lives is in the permanent generation"
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10), gc.get_threshold()
        assert gc.isenabled(), "collection paused for start-up resumes with the freeze"
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_commands_other_than_serve_collect_as_usual() -> None:
    # `python -m proxy_engine` pauses collection before its imports; only serve's freeze resumes it later.
    code = textwrap.dedent(
        """
        import gc, runpy, sys
        sys.argv = ["proxy_engine", "version"]
        try:
            runpy.run_module("proxy_engine", run_name="__main__")
        except SystemExit:
            pass
        print("enabled" if gc.isenabled() else "paused")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "enabled"
