"""The encrypted-file fallback: round trip, passphrase, permissions, no plaintext on disk."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from proxy_engine.secrets.encrypted_file import EncryptedFileStore, PassphraseRequired, WrongPassphrase
from proxy_engine.secrets.store import SecretStoreError

PASS = "tr0ub4dor&3-passphrase"
SECRETS = {
    "anthropic": "sk-ant-api03-SECRETVALUE-aaaaaaaaaaaaaaaa",
    "oauth:claude:ann": json.dumps({"access_token": "at-SECRETACCESS-bbbb", "refresh_token": "rt-SECRETREFRESH-cc"}),
}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def directory(pp_home: Path) -> Path:
    return pp_home / "data" / "secrets"


def _filled(directory: Path) -> EncryptedFileStore:
    store = EncryptedFileStore(directory, passphrase=lambda: PASS)
    for name, value in SECRETS.items():
        store.set(name, value)
    return store


def test_round_trip_across_instances(directory: Path) -> None:
    _filled(directory)
    again = EncryptedFileStore(directory, passphrase=lambda: PASS)
    assert again.list_names() == sorted(SECRETS)
    for name, value in SECRETS.items():
        assert again.get(name) == value
    assert again.delete("anthropic") is True
    assert again.delete("anthropic") is False
    assert EncryptedFileStore(directory, passphrase=lambda: PASS).get("anthropic") is None
    assert "passphrase via scrypt" in again.describe()


def test_passphrase_from_environment(directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXYPAL_PASSPHRASE", PASS)
    EncryptedFileStore(directory).set("k", "v-secret-1")
    monkeypatch.delenv("PROXYPAL_PASSPHRASE")
    assert EncryptedFileStore(directory, passphrase=lambda: PASS).get("k") == "v-secret-1"


def test_wrong_passphrase_is_refused_without_echoing_it(directory: Path) -> None:
    _filled(directory)
    store = EncryptedFileStore(directory, passphrase=lambda: "not-the-passphrase")
    with pytest.raises(WrongPassphrase) as err:
        store.get("anthropic")
    assert "not-the-passphrase" not in str(err.value)
    with pytest.raises(WrongPassphrase):
        store.set("new", "value")  # a wrong passphrase must not overwrite the file either
    assert EncryptedFileStore(directory, passphrase=lambda: PASS).get("anthropic") == SECRETS["anthropic"]


def test_missing_passphrase_says_how_to_provide_one(directory: Path) -> None:
    with pytest.raises(PassphraseRequired, match="PROXYPAL_PASSPHRASE"):
        EncryptedFileStore(directory).set("k", "v")
    with pytest.raises(PassphraseRequired):
        EncryptedFileStore(directory, passphrase=lambda: "").set("k", "v")


def test_permissions_are_private_even_with_a_lax_umask(directory: Path) -> None:
    old = os.umask(0)
    try:
        store = _filled(directory)
    finally:
        os.umask(old)
    assert _mode(directory) == 0o700
    assert _mode(store.path) == 0o600
    for f in directory.iterdir():
        assert _mode(f) == 0o600, f


def test_no_plaintext_on_disk(directory: Path, pp_home: Path) -> None:
    _filled(directory)
    needles = []
    for name, value in SECRETS.items():
        needles += [value.encode(), name.encode(), base64.b64encode(value.encode())]
    needles += [b"SECRETVALUE", b"SECRETACCESS", b"SECRETREFRESH", PASS.encode()]
    scanned = 0
    for f in pp_home.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            scanned += 1
            for needle in needles:
                assert needle not in data, f"{needle!r} found in {f}"
    assert scanned >= 1


def test_tampering_with_header_or_ciphertext_is_detected(directory: Path) -> None:
    store = _filled(directory)
    original = json.loads(store.path.read_text())
    for field, value in (("n", 2**14), ("salt", base64.b64encode(b"0" * 16).decode())):
        tampered = {**original, field: value}
        store.path.write_text(json.dumps(tampered))
        with pytest.raises(WrongPassphrase):
            EncryptedFileStore(directory, passphrase=lambda: PASS).get("anthropic")
    ct = bytearray(base64.b64decode(original["ct"]))
    ct[0] ^= 1
    store.path.write_text(json.dumps({**original, "ct": base64.b64encode(bytes(ct)).decode()}))
    with pytest.raises(WrongPassphrase):
        EncryptedFileStore(directory, passphrase=lambda: PASS).get("anthropic")
    store.path.write_text("not json")
    with pytest.raises(SecretStoreError, match="not a ProxyPal secrets file"):
        EncryptedFileStore(directory, passphrase=lambda: PASS).get("anthropic")


def test_opt_in_key_file_replaces_the_passphrase(directory: Path) -> None:
    store = _filled(directory)
    key_path = store.enable_keyfile()
    assert _mode(key_path) == 0o600
    no_prompt = EncryptedFileStore(directory)  # no passphrase anywhere
    assert no_prompt.get("anthropic") == SECRETS["anthropic"]
    assert "key file" in no_prompt.describe()
    assert json.loads(store.path.read_text())["kdf"] == "keyfile"
    key_path.write_text(base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(WrongPassphrase):
        EncryptedFileStore(directory).get("anthropic")
    key_path.unlink()
    with pytest.raises(SecretStoreError, match=r"key file .* is missing"):
        EncryptedFileStore(directory).get("anthropic")


def test_two_processes_writing_at_once_lose_nothing(directory: Path) -> None:
    """The flock serialises read-modify-write between the engine and a CLI login."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from proxy_engine.secrets.encrypted_file import EncryptedFileStore
        store = EncryptedFileStore(Path({str(directory)!r}), passphrase=lambda: {PASS!r})
        for i in range(15):
            store.set(f"{{sys.argv[1]}}-{{i}}", "value")
        """
    )
    EncryptedFileStore(directory, passphrase=lambda: PASS).set("seed", "x")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", script, tag], env=env) for tag in ("a", "b")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    names = EncryptedFileStore(directory, passphrase=lambda: PASS).list_names()
    assert len(names) == 31
    assert {f"a-{i}" for i in range(15)} | {f"b-{i}" for i in range(15)} <= set(names)
