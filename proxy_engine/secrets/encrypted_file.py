"""Encrypted-file secret store for machines without a usable OS keyring (headless SSH boxes).

All secrets live in one AES-256-GCM blob (`secrets.enc`, 0600, in a 0700 directory). The key
comes from a passphrase through scrypt (`PROXYPAL_PASSPHRASE` or a prompt), or, only when the
user opts in with `enable_keyfile()`, from a random 0600 key file next to it. The header (kdf,
salt, parameters) is authenticated as associated data, so tampering with it fails decryption.
Every operation re-reads the file under an flock, so the engine sees what `login` just wrote.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from proxy_engine.paths import atomic_write, make_private_dirs
from proxy_engine.secrets.base import SecretStore, SecretStoreError, check_secret_name

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PASSPHRASE_ENV = "PROXYPAL_PASSPHRASE"
FILE_NAME = "secrets.enc"
KEY_FILE_NAME = "secrets.key"
_LOCK_NAME = ".secrets.lock"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_VERSION = 1


class PassphraseRequired(SecretStoreError):
    """The file store needs a passphrase and none was given."""


class WrongPassphrase(SecretStoreError):
    """Decryption failed: wrong passphrase/key, or the file was altered."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _aesgcm(key: bytes) -> AESGCM:
    """Imported on first use: `cryptography` costs ~8 MiB resident, and an engine whose secrets file
    does not exist (API keys from the environment or the OS keyring) never needs it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _private_dir(path: Path) -> None:
    make_private_dirs(path)
    os.chmod(path, 0o700)


class EncryptedFileStore(SecretStore):
    def __init__(self, directory: Path, *, passphrase: Callable[[], str] | None = None) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self.key_path = self.directory / KEY_FILE_NAME
        self._prompt = passphrase
        self._key_cache: tuple[str, bytes] | None = None  # (header fingerprint, key)

    @staticmethod
    def exists(directory: Path) -> bool:
        return (Path(directory) / FILE_NAME).exists()

    # -- key handling -------------------------------------------------------------------------

    def _passphrase(self) -> str:
        value = os.environ.get(PASSPHRASE_ENV)
        if not value and self._prompt is not None:
            value = self._prompt()
        if not value:
            raise PassphraseRequired(
                f"the encrypted secrets file {self.path} needs a passphrase: set {PASSPHRASE_ENV}, "
                "run interactively, or opt into a key file with `proxypal-engine auth keyfile`"
            )
        return value

    def _derive(self, header: dict) -> bytes:
        fingerprint = json.dumps(header, sort_keys=True)
        if self._key_cache and self._key_cache[0] == fingerprint:
            return self._key_cache[1]
        if header["kdf"] == "keyfile":
            try:
                key = _unb64(self.key_path.read_text().strip())
            except FileNotFoundError:
                raise SecretStoreError(f"the key file {self.key_path} is missing") from None
            except ValueError:
                raise SecretStoreError(f"the key file {self.key_path} is corrupt") from None
            if len(key) != 32:
                raise SecretStoreError(f"the key file {self.key_path} has the wrong length")
        elif header["kdf"] == "scrypt":
            from cryptography.hazmat.primitives.kdf.scrypt import Scrypt  # see _aesgcm

            kdf = Scrypt(salt=_unb64(header["salt"]), length=32, n=header["n"], r=header["r"], p=header["p"])
            key = kdf.derive(self._passphrase().encode("utf-8"))
        else:
            raise SecretStoreError(f"unknown key derivation {header['kdf']!r} in {self.path}")
        self._key_cache = (fingerprint, key)
        return key

    def _new_header(self, *, keyfile: bool) -> dict:
        if keyfile:
            return {"v": _VERSION, "kdf": "keyfile"}
        return {"v": _VERSION, "kdf": "scrypt", "salt": _b64(os.urandom(16)), **_SCRYPT}

    # -- file I/O -------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        _private_dir(self.directory)
        fd = os.open(self.directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _read(self) -> tuple[dict, dict[str, str]]:
        """(header, secrets). A missing file reads as empty with a fresh header."""
        try:
            blob = json.loads(self.path.read_text())
        except FileNotFoundError:
            return self._new_header(keyfile=self.key_path.exists()), {}
        except ValueError:
            raise SecretStoreError(f"{self.path} is not a ProxyPal secrets file") from None
        try:
            header = {k: v for k, v in blob.items() if k not in {"nonce", "ct"}}
            nonce, ct = _unb64(blob["nonce"]), _unb64(blob["ct"])
        except (KeyError, ValueError, TypeError, AttributeError):
            raise SecretStoreError(f"{self.path} is damaged") from None
        if header.get("v") != _VERSION:
            raise SecretStoreError(f"{self.path} has unsupported version {header.get('v')!r}")
        key = self._derive(header)
        aad = json.dumps(header, sort_keys=True).encode()
        from cryptography.exceptions import InvalidTag

        try:
            plain = _aesgcm(key).decrypt(nonce, ct, aad)
        except InvalidTag:
            self._key_cache = None
            raise WrongPassphrase(
                f"cannot decrypt {self.path}: wrong passphrase or key file, or the file was altered"
            ) from None
        return header, json.loads(plain)

    def _write(self, header: dict, secrets: dict[str, str]) -> None:
        key = self._derive(header)
        aad = json.dumps(header, sort_keys=True).encode()
        nonce = os.urandom(12)
        ct = _aesgcm(key).encrypt(nonce, json.dumps(secrets, sort_keys=True).encode(), aad)
        atomic_write(self.path, json.dumps({**header, "nonce": _b64(nonce), "ct": _b64(ct)}).encode())

    # -- SecretStore --------------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        check_secret_name(name)
        if not self.path.exists():
            return None
        with self._locked():
            return self._read()[1].get(name)

    def set(self, name: str, value: str) -> None:
        check_secret_name(name)
        with self._locked():
            header, secrets = self._read()
            secrets[name] = value
            self._write(header, secrets)

    def delete(self, name: str) -> bool:
        check_secret_name(name)
        if not self.path.exists():
            return False
        with self._locked():
            header, secrets = self._read()
            if name not in secrets:
                return False
            del secrets[name]
            self._write(header, secrets)
            return True

    def list_names(self) -> list[str]:
        if not self.path.exists():
            return []
        with self._locked():
            return sorted(self._read()[1])

    def uses_keyfile(self) -> bool:
        if self.path.exists():
            try:
                return json.loads(self.path.read_text()).get("kdf") == "keyfile"
            except ValueError:
                return False
        return self.key_path.exists()

    def describe(self) -> str:
        how = f"key file {self.key_path}" if self.uses_keyfile() else "passphrase via scrypt"
        return f"encrypted file {self.path} (AES-256-GCM, {how})"

    def enable_keyfile(self) -> Path:
        """Opt in to a random 0600 key file instead of a passphrase; re-encrypts existing secrets.

        Anyone who can read the key file can read the secrets: this trades protection at rest
        for unattended starts (a service with no passphrase to type).
        """
        with self._locked():
            _, secrets = self._read() if self.path.exists() else ({}, {})
            if not self.key_path.exists():
                atomic_write(self.key_path, _b64(os.urandom(32)).encode())
            self._key_cache = None
            self._write(self._new_header(keyfile=True), secrets)
        return self.key_path
