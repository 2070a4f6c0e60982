"""A real SM2/SM3 RFC 3161 TSA on loopback for tests (GM/T 0033 style), beside ``tsa.py``.

OpenSSL 3.0's ``openssl ts -reply`` cannot sign with an SM2 key, so this TSA builds its replies
with asn1crypto and signs them with ``integrity/sm2.py`` (SM2-with-SM3, user ID
``1234567812345678``). Its PKI is made with the ``openssl`` CLI (``-sm3 -sigopt distid:...``), so
every token's chain check also checks that liuhen verifies CLI-made SM2 certificate signatures.

``sm2_tsa(workdir)`` makes a fresh root and TSA certificate and serves ``POST /`` on 127.0.0.1.
It answers a TimeStampReq whose imprint is SM3 (any 32-byte value: it cannot know the message)
with a granted token echoing imprint and nonce, and anything else with PKIStatus rejection
(badAlg). Faults for negative tests are set on the running TSA (``SmTsa.fault``): another signing
key, a TSA certificate without the timeStamping EKU, or one that expired before genTime — the
last two are made with asn1crypto and signed by the same root — or a contentType attribute
that is not id-ct-TSTInfo.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Literal

from asn1crypto import cms, keys, pem, tsp, x509

from integrity import sm2
from integrity.timestamp_sm import SM2_SIGN_OID, SM2_WITH_SM3_OID, SM3_OID, TimeStampResp, sm3

OPENSSL = "/usr/bin/openssl"
POLICY_OID = "1.3.6.1.4.1.57264.9.2"  # arbitrary test policy for the SM2 TSA
MAX_QUERY_BYTES = 64 * 1024
_DISTID = "distid:1234567812345678"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"

Fault = Literal["none", "other_key", "no_eku", "expired", "content_type", "intermediate",
                "sm2_1_oid"]
"""``intermediate`` and ``sm2_1_oid`` are no faults: the TSA certificate issued by an intermediate
CA that the token embeds, as Chinese TSAs' chains usually run (root → 中级 CA → TSA); the
SignerInfo's signature algorithm spelt sm2-1 (1.2.156.10197.1.301.1) as GM/T 0010 writes it."""

_TSA_EXTENSIONS = """\
[tsa_cert]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _openssl(*args: str, cwd: Path) -> bytes:
    return subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True,
                          timeout=30).stdout


def _scalar(key_pem: bytes) -> bytes:
    """The 32-byte private scalar of an ``openssl genpkey -algorithm SM2`` PKCS#8 PEM key."""
    _, _, der = pem.unarmor(key_pem)
    info = keys.PrivateKeyInfo.load(der)
    value: int = keys.ECPrivateKey.load(info["private_key"].contents)["private_key"].native
    return value.to_bytes(32, "big")


def _der(cert_pem: bytes) -> bytes:
    return bytes(pem.unarmor(cert_pem)[2])


def make_sm2_pki(workdir: Path, name: str) -> None:
    """SM2 root CA (root.pem/root.key) and TSA cert (tsa.pem/tsa.key) by the ``openssl`` CLI."""
    _openssl("genpkey", "-algorithm", "SM2", "-out", "root.key", cwd=workdir)
    _openssl("req", "-x509", "-new", "-key", "root.key", "-sm3", "-sigopt", _DISTID,
             "-out", "root.pem", "-days", "3650", "-subj", f"/O=liuhen tests/CN={name} root",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=workdir)
    _openssl("genpkey", "-algorithm", "SM2", "-out", "tsa.key", cwd=workdir)
    _openssl("req", "-new", "-key", "tsa.key", "-sm3", "-sigopt", _DISTID, "-out", "tsa.csr",
             "-subj", f"/O=liuhen tests/CN={name}", cwd=workdir)
    (workdir / "tsa_ext.cnf").write_text(_TSA_EXTENSIONS)
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "root.pem", "-CAkey", "root.key",
             "-CAcreateserial", "-days", "3650", "-sm3", "-sigopt", _DISTID,
             "-vfyopt", _DISTID, "-extfile", "tsa_ext.cnf", "-extensions", "tsa_cert",
             "-out", "tsa.pem", cwd=workdir)


def issue_certificate(*, issuer_der: bytes, issuer_key: bytes, subject_key: bytes, cn: str,
                      not_before: datetime, not_after: datetime, eku: bool,
                      serial: int, ca: bool = False) -> bytes:
    """A TSA (or, with ``ca``, CA) certificate made with asn1crypto and SM2-signed by
    ``issuer_key``."""
    issuer = x509.Certificate.load(issuer_der)
    spki = keys.PublicKeyInfo.load(sm2.spki_der(sm2.public_key(subject_key)))
    usage = {"key_cert_sign", "crl_sign"} if ca else {"digital_signature"}
    extensions: list[dict[str, Any]] = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True, "extn_value": usage},
    ]
    if eku:
        extensions.append({"extn_id": "extended_key_usage", "critical": True,
                           "extn_value": ["time_stamping"]})
    tbs = x509.TbsCertificate({
        "version": "v3",
        "serial_number": serial,
        "signature": {"algorithm": SM2_WITH_SM3_OID},
        "issuer": issuer.subject,
        "validity": {"not_before": x509.Time({"utc_time": not_before}),
                     "not_after": x509.Time({"utc_time": not_after})},
        "subject": x509.Name.build({"organization_name": "liuhen tests", "common_name": cn}),
        "subject_public_key_info": spki,
        "extensions": extensions,
    })
    signature = sm2.sign(issuer_key, tbs.dump())
    return bytes(x509.Certificate({"tbs_certificate": tbs,
                                   "signature_algorithm": {"algorithm": SM2_WITH_SM3_OID},
                                   "signature_value": signature}).dump())


@dataclass
class SmTsa:
    """A running SM2 TSA: POST a DER TimeStampReq to ``url``; trust ``root_pem``."""

    url: str
    root_pem: bytes
    tsa_cert_pem: bytes
    name: str
    root_key: bytes
    tsa_key: bytes
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    fault: Fault = "none"
    _serial: int = 0
    _server: HTTPServer | None = None
    _thread: threading.Thread | None = None

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        if self._server is not None and self._thread is not None:
            if self._thread.is_alive():
                self._server.shutdown()
                self._thread.join()
            self._server.server_close()

    def _signer(self, now: datetime) -> tuple[list[bytes], bytes]:
        """(certificates DER, the signer's first; signing key) for the current fault."""
        cert = _der(self.tsa_cert_pem)
        if self.fault == "other_key":
            return [cert], sm2.generate_private_key()
        if self.fault == "intermediate":
            ca_key = sm2.generate_private_key()
            start, end = now - timedelta(days=1), now + timedelta(days=1)
            ca = issue_certificate(issuer_der=_der(self.root_pem), issuer_key=self.root_key,
                                   subject_key=ca_key, cn=f"{self.name} intermediate CA",
                                   not_before=start, not_after=end, eku=False,
                                   serial=2000 + self._serial, ca=True)
            tsa = issue_certificate(issuer_der=ca, issuer_key=ca_key, subject_key=self.tsa_key,
                                    cn=f"{self.name} (via intermediate)", not_before=start,
                                    not_after=end, eku=True, serial=3000 + self._serial)
            return [tsa, ca], self.tsa_key
        if self.fault in ("no_eku", "expired"):
            expired = self.fault == "expired"
            start = now - timedelta(days=2) if expired else now - timedelta(days=1)
            end = now - timedelta(days=1) if expired else now + timedelta(days=365)
            cert = issue_certificate(issuer_der=_der(self.root_pem), issuer_key=self.root_key,
                                     subject_key=self.tsa_key, cn=f"{self.name} ({self.fault})",
                                     not_before=start.replace(microsecond=0),
                                     not_after=end.replace(microsecond=0),
                                     eku=expired, serial=1000 + self._serial)
        return [cert], self.tsa_key

    def reply(self, query: bytes) -> bytes:
        """The DER TimeStampResp for one DER TimeStampReq."""
        request = tsp.TimeStampReq.load(query, strict=True)
        imprint = request["message_imprint"]
        if (imprint["hash_algorithm"]["algorithm"].dotted != SM3_OID
                or len(imprint["hashed_message"].native) != 32):
            return bytes(TimeStampResp({"status": {
                "status": "rejection", "status_string": ["SM3 imprints only"],
                "fail_info": tsp.PKIFailureInfo({"bad_alg"})}}).dump())
        now = self.clock().replace(microsecond=0)
        self._serial += 1
        info: dict[str, Any] = {
            "version": "v1", "policy": POLICY_OID, "message_imprint": imprint,
            "serial_number": self._serial, "gen_time": now,
            "accuracy": {"seconds": 1}, "ordering": False,
        }
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        tst_info = tsp.TSTInfo(info)
        econtent = tst_info.dump()
        ders, key = self._signer(now)
        certs = [x509.Certificate.load(der) for der in ders]
        cert = certs[0]
        content_type = "data" if self.fault == "content_type" else _TST_INFO
        signed_attrs = cms.CMSAttributes([
            {"type": "content_type", "values": [content_type]},
            {"type": "message_digest", "values": [sm3(econtent)]},
            {"type": "signing_time", "values": [cms.Time({"utc_time": now})]},
        ])
        signature = sm2.sign(key, signed_attrs.dump())
        signer_info = {
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": cert.issuer, "serial_number": cert.serial_number}}),
            "digest_algorithm": {"algorithm": SM3_OID},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": SM2_SIGN_OID if self.fault == "sm2_1_oid"
                                    else SM2_WITH_SM3_OID},
            "signature": signature,
        }
        signed_data = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [{"algorithm": SM3_OID}],
            "encap_content_info": {"content_type": "tst_info", "content": tst_info},
            "certificates": certs if request["cert_req"].native else [],
            "signer_infos": [signer_info],
        })
        return bytes(TimeStampResp({
            "status": {"status": "granted"},
            "time_stamp_token": {"content_type": "signed_data", "content": signed_data},
        }).dump())


def _handler(tsa: SmTsa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if not 0 < length <= MAX_QUERY_BYTES:
                self.send_error(400, "bad Content-Length")
                return
            try:
                body = tsa.reply(self.rfile.read(length))
            except ValueError:
                self.send_error(400, "not a TimeStampReq")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest output quiet

    return Handler


@contextmanager
def sm2_tsa(workdir: Path, *, name: str = "liuhen SM2 test TSA") -> Iterator[SmTsa]:
    """Create a fresh SM2 PKI in ``workdir`` (must exist, should be empty) and serve a TSA."""
    make_sm2_pki(workdir, name)
    tsa = SmTsa(url="", root_pem=(workdir / "root.pem").read_bytes(),
                tsa_cert_pem=(workdir / "tsa.pem").read_bytes(), name=name,
                root_key=_scalar((workdir / "root.key").read_bytes()),
                tsa_key=_scalar((workdir / "tsa.key").read_bytes()))
    server = HTTPServer(("127.0.0.1", 0), _handler(tsa))
    thread = threading.Thread(target=server.serve_forever, name=f"sm2-tsa-{name}", daemon=True)
    thread.start()
    tsa.url = f"http://127.0.0.1:{server.server_address[1]}/"
    tsa._server, tsa._thread = server, thread
    try:
        yield tsa
    finally:
        tsa.stop()
