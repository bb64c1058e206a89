"""`serve` never loads the OAuth flows; the login commands and --help still reach them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from proxy_engine.cli import _needs_login_commands

PROBE = (
    "import sys\n"
    "from proxy_engine.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('loaded=' + ','.join(sorted({m.split('.')[0] for m in sys.modules} & {'authlib', 'joserfc', 'httpx'})))\n"
)


@pytest.mark.parametrize(
    ("argv", "needed"),
    [
        (["serve"], False),
        (["--config", "x.yaml", "serve", "--port", "1"], False),
        (["--config=x.yaml", "version"], False),
        (["tail", "--json"], False),
        (["login", "claude"], True),
        (["auth", "list"], True),
        (["--help"], True),
        ([], True),
    ],
)
def test_which_commands_need_the_login_parsers(argv: list[str], needed: bool) -> None:
    assert _needs_login_commands(argv) is needed


def _loaded_by(*argv: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1].removeprefix("loaded=")


def test_version_loads_no_oauth_code_but_help_lists_login() -> None:
    assert _loaded_by("version") == ""
    assert _loaded_by("--help") != ""  # the probe can fail: the login parsers do load the OAuth code
    help_text = subprocess.run(
        [sys.executable, "-m", "proxy_engine", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "login" in help_text and "serve" in help_text
