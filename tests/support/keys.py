"""Deterministic Ed25519 and SM2 signers for tests (seeded, so failures reproduce)."""

from __future__ import annotations

from hashlib import sha256

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from integrity.notes import Ed25519Signer, Signer, Sm2Signer


def signer(name: str, role: str) -> Signer:
    seed = sha256(f"liuhen-test-key/{name}".encode()).digest()
    return Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(seed), role=role)


def sm2_signer(name: str, role: str) -> Signer:
    """A deterministic SM2 key under ``name`` (its scalar from the same seed as above)."""
    scalar = sha256(f"liuhen-test-sm2-key/{name}".encode()).digest()
    return Sm2Signer(name, scalar, role=role)
