"""A real RFC 3161 TSA on loopback for tests: ``openssl ts -reply`` behind a tiny HTTP server.

``local_tsa(workdir)`` makes a fresh root CA and a TSA certificate signed by it (EC P-256, with the
*critical* ``extendedKeyUsage=timeStamping`` that RFC 3161 §2.3 requires and rfc3161-client
checks), writes an ``openssl ts`` config, and serves ``POST /`` on 127.0.0.1 (ephemeral port).
Every call makes a new root, so a second call with another workdir gives an *untrusted* TSA for
negative tests.

The reply config has no ``certs =`` line: the reply embeds only the signer certificate (the request
sets certReq), and the verifier is given the root as its trust anchor (DESIGN.md §4).
``embed_root=True`` adds the root to the reply anyway (``certs =``), for the attack where a token
carries its own root: it must not be trusted for that. (With OpenSSL 3.0 such replies also fail
rfc3161-client's strict DER parse: the certificates SET is not sorted.)

Requests are served one at a time (plain ``HTTPServer``): ``openssl ts -reply`` rewrites its serial
file, so concurrent replies could reuse a serial number.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

OPENSSL = "/usr/bin/openssl"
POLICY_OID = "1.3.6.1.4.1.57264.9.1"  # arbitrary test policy; tests compare against it
MAX_QUERY_BYTES = (
    64 * 1024
)  # a TimeStampReq is ~100 bytes; bound what the test server reads

_TSA_EXTENSIONS = """\
[tsa_cert]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

_TS_CONFIG = """\
[tsa]
default_tsa = liuhen_test_tsa

[liuhen_test_tsa]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
{certs_line}
"""


@dataclass
class LocalTsa:
    """A running local TSA: POST a DER TimeStampReq to ``url``; trust ``root_pem``."""

    url: str
    root_pem: bytes
    tsa_cert_pem: bytes
    name: str
    _server: HTTPServer
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


def _openssl(*args: str, cwd: Path) -> bytes:
    done = subprocess.run(
        [OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=30
    )
    return done.stdout


def _make_pki(workdir: Path, name: str) -> None:
    """Root CA (root.pem/root.key) and TSA cert (tsa.pem/tsa.key) under ``workdir``."""
    _openssl(
        "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "root.key", "-out", "root.pem", "-days", "3650",
        "-subj", f"/O=liuhen tests/CN={name} root",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=workdir,
    )  # fmt: skip
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", f"/O=liuhen tests/CN={name}",
        cwd=workdir,
    )  # fmt: skip
    (workdir / "tsa_ext.cnf").write_text(_TSA_EXTENSIONS)
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "root.pem", "-CAkey", "root.key",
        "-CAcreateserial", "-days", "3650", "-sha256",
        "-extfile", "tsa_ext.cnf", "-extensions", "tsa_cert", "-out", "tsa.pem",
        cwd=workdir,
    )  # fmt: skip


def _handler(workdir: Path) -> type[BaseHTTPRequestHandler]:
    config = workdir / "ts.cnf"
    query = workdir / "query.tsq"

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if not 0 < length <= MAX_QUERY_BYTES:
                self.send_error(400, "bad Content-Length")
                return
            query.write_bytes(self.rfile.read(length))
            done = subprocess.run(
                [
                    OPENSSL,
                    "ts",
                    "-reply",
                    "-config",
                    str(config),
                    "-queryfile",
                    str(query),
                ],
                cwd=workdir,
                capture_output=True,
                timeout=30,
                check=False,  # a failed reply becomes HTTP 500, like a broken TSA
            )
            if done.returncode != 0 or not done.stdout:
                self.send_error(500, "openssl ts -reply failed")
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(done.stdout)))
            self.end_headers()
            self.wfile.write(done.stdout)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest output quiet

    return Handler


@contextmanager
def local_tsa(
    workdir: Path, *, name: str = "liuhen test TSA", embed_root: bool = False
) -> Iterator[LocalTsa]:
    """Create a fresh PKI in ``workdir`` (must exist, should be empty) and serve a TSA from it."""
    _make_pki(workdir, name)
    (workdir / "serial").write_text("01\n")
    certs_line = f"certs = {workdir}/root.pem" if embed_root else ""
    (workdir / "ts.cnf").write_text(
        _TS_CONFIG.format(dir=workdir, policy=POLICY_OID, certs_line=certs_line)
    )
    server = HTTPServer(("127.0.0.1", 0), _handler(workdir))
    thread = threading.Thread(
        target=server.serve_forever, name=f"local-tsa-{name}", daemon=True
    )
    thread.start()
    port = server.server_address[1]
    tsa = LocalTsa(
        url=f"http://127.0.0.1:{port}/",
        root_pem=(workdir / "root.pem").read_bytes(),
        tsa_cert_pem=(workdir / "tsa.pem").read_bytes(),
        name=name,
        _server=server,
        _thread=thread,
    )
    try:
        yield tsa
    finally:
        tsa.stop()
