"""SharedSpend: budget spend one process adds is in every other's total at once, region by region."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy_engine.usage import shared_spend
from proxy_engine.usage.shared_spend import SharedSpend

ADD_IN_ANOTHER_PROCESS = """
import sys
from pathlib import Path
from proxy_engine.usage.shared_spend import SharedSpend
s = SharedSpend(Path(sys.argv[1]), int(sys.argv[2]))
for _ in range(4):
    s.add("month:1:c:intern", 0.25)
s.add("month:1:*", 1.0)
"""


def test_spend_added_by_another_process_counts_here(tmp_path: Path) -> None:
    path = tmp_path / "spend.bin"
    base = SharedSpend.create(path, regions=3)
    base.add("month:1:c:intern", 2.0)
    mine = SharedSpend(path, 1)
    mine.add("month:1:c:intern", 0.5)
    assert mine.total("month:1:c:intern") == 2.5
    subprocess.run([sys.executable, "-c", ADD_IN_ANOTHER_PROCESS, str(path), "2"], check=True)
    assert mine.total("month:1:c:intern") == pytest.approx(3.5)
    assert mine.total("month:1:*") == 1.0
    assert mine.total("month:1:c:nobody") == 0.0
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_region_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    SharedSpend.create(tmp_path / "spend.bin", regions=2)
    with pytest.raises(ValueError, match="region 2 does not exist"):
        SharedSpend(tmp_path / "spend.bin", 2)


def test_a_full_region_keeps_its_keys_and_logs_once(tmp_path: Path, monkeypatch, caplog) -> None:
    SharedSpend.create(tmp_path / "spend.bin", regions=2)
    monkeypatch.setattr(shared_spend, "SLOTS", 2)
    s = SharedSpend(tmp_path / "spend.bin", 1)
    s.add("a", 1.0)
    s.add("b", 1.0)
    s.add("c", 1.0)
    s.add("c", 1.0)
    s.add("a", 1.0)
    assert (s.total("a"), s.total("b"), s.total("c")) == (2.0, 1.0, 0.0)
    assert sum("shared budget spend is full" in r.message for r in caplog.records) == 1
