"""The C2PA manifest on a playback copy (ingest/media/provenance.py), with a local bureau CA.

A real remux of a generated clip is signed with a station key whose certificate a test CA issued
(no network, no time-stamp authority), read back by the C2PA SDK against that CA, and tampered
with: one flipped byte, another root, a self-signed station certificate.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from evidence.errors import PolicyViolationError, VerificationError
from evidence.ids import Sha256Hex
from ingest.media import derive, plan, probe, stream_hashes
from ingest.media.provenance import C2paIdentity, embed_manifest, read_manifest

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
NOW = datetime.now(UTC)
Key = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Bureau")])


def _usage(*, signs_data: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=signs_data, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=not signs_data, crl_sign=not signs_data,
                         encipher_only=False, decipher_only=False)


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(common_name))
            .issuer_name(_name(common_name)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(signs_data=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def station_identity(alg: str, *, ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None
                     ) -> C2paIdentity:
    """A station key and its certificate, issued by ``ca`` (self-signed when None)."""
    key: Key = (ed25519.Ed25519PrivateKey.generate() if alg == "ed25519"
                else ec.generate_private_key(ec.SECP256R1()))
    issuer_key: Key = ca[0] if ca else key
    issuer = ca[1].subject if ca else _name("station-test-01")
    builder = (x509.CertificateBuilder().subject_name(_name("station-test-01"))
               .issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(days=1))
               .not_valid_after(NOW + timedelta(days=90))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_usage(signs_data=True), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                              critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    if ca:  # the SDK refuses a leaf that does not name its issuer's key
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca[0].public_key()),
            critical=False)
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    leaf = builder.sign(issuer_key, algorithm)
    chain = leaf.public_bytes(serialization.Encoding.PEM) + (
        ca[1].public_bytes(serialization.Encoding.PEM) if ca else b"")
    sign: Callable[[bytes], bytes]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        sign = key.sign
    else:
        curve_key = key
        sign = lambda data: curve_key.sign(data, ec.ECDSA(hashes.SHA256()))  # noqa: E731
    return C2paIdentity("station-test-01", sign, alg, chain.decode())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def bureau() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    return make_ca("Test Bureau C2PA root")


@pytest.fixture(scope="module")
def playback(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Sha256Hex]:
    """A remuxed playback copy of a generated H.264/AAC clip, and its original's SHA-256."""
    d = tmp_path_factory.mktemp("c2pa")
    original = d / "original.mp4"
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1",
                    "-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(original)],
                   check=True, capture_output=True)
    parent = Sha256Hex(hashlib.sha256(original.read_bytes()).hexdigest())
    copy = derive(original, d, plan(probe(original)), ffmpeg=FFMPEG, parent=parent)
    return copy.path, parent


@pytest.mark.parametrize("alg", ["ed25519", "es256"])
def test_manifest_names_the_original_and_verifies(
        playback: tuple[Path, Sha256Hex], bureau: tuple[ec.EllipticCurvePrivateKey,
                                                        x509.Certificate],
        tmp_path: Path, alg: str) -> None:
    src, parent = playback
    before = src.read_bytes()
    signed = tmp_path / src.name
    embed_manifest(src, signed, identity=station_identity(alg, ca=bureau), original=parent,
                   role="playback", action="remux")
    assert src.read_bytes() == before  # the unsigned copy is only read
    facts = read_manifest(signed, trust_anchors_pem=pem(bureau[1]))
    assert facts == {"sha256": parent, "station": "station-test-01", "role": "playback",
                     "action": "remux"}
    # the manifest is a box of its own: the media packets are the remux's, unchanged
    assert stream_hashes(signed, "va", ffmpeg=FFMPEG) == stream_hashes(src, "va", ffmpeg=FFMPEG)
    assert not list(tmp_path.glob(".*.part"))


def test_a_changed_byte_breaks_the_manifest(playback: tuple[Path, Sha256Hex], bureau: tuple[
        ec.EllipticCurvePrivateKey, x509.Certificate], tmp_path: Path) -> None:
    src, parent = playback
    signed = tmp_path / "signed.mp4"
    embed_manifest(src, signed, identity=station_identity("es256", ca=bureau), original=parent,
                   role="playback", action="remux")
    data = bytearray(signed.read_bytes())
    data[-100] ^= 0x01  # inside the media data
    tampered = tmp_path / "clip_tampered.mp4"
    tampered.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match=r"bmffHash\.mismatch"):
        read_manifest(tampered, trust_anchors_pem=pem(bureau[1]))


def test_another_root_is_not_trusted(playback: tuple[Path, Sha256Hex], bureau: tuple[
        ec.EllipticCurvePrivateKey, x509.Certificate], tmp_path: Path) -> None:
    src, parent = playback
    signed = tmp_path / "signed.mp4"
    embed_manifest(src, signed, identity=station_identity("es256", ca=bureau), original=parent,
                   role="playback", action="remux")
    _, stranger = make_ca("Some other root")
    with pytest.raises(VerificationError, match="untrusted"):
        read_manifest(signed, trust_anchors_pem=pem(stranger))


def test_a_self_signed_station_is_refused(playback: tuple[Path, Sha256Hex],
                                          tmp_path: Path) -> None:
    src, parent = playback
    with pytest.raises(VerificationError, match="C2PA signing refused"):
        embed_manifest(src, tmp_path / "signed.mp4", identity=station_identity("es256", ca=None),
                       original=parent, role="playback", action="remux")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_unsupported_inputs_are_policy_errors(playback: tuple[Path, Sha256Hex], bureau: tuple[
        ec.EllipticCurvePrivateKey, x509.Certificate], tmp_path: Path) -> None:
    src, parent = playback
    identity = station_identity("es256", ca=bureau)
    with pytest.raises(PolicyViolationError, match="algorithm"):
        embed_manifest(src, tmp_path / "x.mp4", original=parent, role="playback",
                       action="remux", identity=C2paIdentity("s", identity.sign, "rsa1024",
                                                             identity.chain_pem))
    with pytest.raises(PolicyViolationError, match=r"\.avi"):
        embed_manifest(src.with_suffix(".avi"), tmp_path / "x.avi", identity=identity,
                       original=parent, role="playback", action="transcode")
