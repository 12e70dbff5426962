"""Ed25519 key pairs for signed checkpoints: the private key lives only in a file (mode 0600).

The database never sees a private key: whoever can rewrite the events table must not also be
able to sign for the rewrite.  Keys are PEM (PKCS#8 private, SubjectPublicKeyInfo public), so
``openssl pkey -in key.pem -pubout`` and other tools read them too.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import InvalidInput


class BadKey(InvalidInput):
    code = "bad-key"
    title = "Unusable key"


def create_key_pair(private_path: Path, public_path: Path) -> Ed25519PublicKey:
    """Write a new key pair; refuses to overwrite either file."""
    for path in (private_path, public_path):
        if path.exists():
            raise BadKey(f"{path} exists: refusing to overwrite a key", path=str(path))
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL with mode 0600: the file never exists, even for an instant, readable by others.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public = key.public_key()
    public_path.write_bytes(public_pem(public))
    return public


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: Ed25519PublicKey) -> str:
    """A short name of a public key: the first 16 hex digits of sha256 over its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key; refused when others may read it (as ssh refuses an open key file)."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise BadKey(f"cannot read private key {path}: {e.strerror}", path=str(path)) from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BadKey(
            f"private key {path} is accessible by others (mode {stat.S_IMODE(mode):04o}): "
            "chmod 600 it",
            path=str(path),
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise BadKey(f"{path} is not a PEM private key", path=str(path)) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise BadKey(f"{path} is not an Ed25519 key", path=str(path))
    return key


def parse_public_key(pem: bytes, where: str = "public key") -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise BadKey(f"{where} is not a PEM public key", where=where) from e
    if not isinstance(key, Ed25519PublicKey):
        raise BadKey(f"{where} is not an Ed25519 public key", where=where)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        pem = path.read_bytes()
    except OSError as e:
        raise BadKey(f"cannot read public key {path}: {e.strerror}", path=str(path)) from e
    return parse_public_key(pem, str(path))
