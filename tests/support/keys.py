"""Deterministic Ed25519 signers for tests (seeded, so failures reproduce)."""

from __future__ import annotations

from hashlib import sha256

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from integrity.notes import Signer


def signer(name: str, role: str) -> Signer:
    seed = sha256(f"liuhen-test-key/{name}".encode()).digest()
    return Signer(name, Ed25519PrivateKey.from_private_bytes(seed), role=role)
