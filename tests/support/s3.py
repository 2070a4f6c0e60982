"""A real Ceph RGW for the S3 Object Lock tests and benchmark (DESIGN.md §5, §8).

Each test run owns its cluster: ``ensure_rgw()`` starts one with ``scripts/ceph-rgw.sh start``
in a fresh state directory, on free loopback ports, and stops and deletes it when the run's
process exits, so two runs on one machine never share or collide on a folder or a port. A
developer who wants to reuse a running cluster across runs names it explicitly
(``LIUHEN_CEPH_DIR``, ``LIUHEN_RGW_PORT``, ``LIUHEN_CEPH_MON_PORT``): that one is started when
it does not answer and is left running. There is no silent skip: when RGW cannot be started the
fixtures FAIL the tests — CI must not pass without a WORM server. Buckets are uniquely named.

Test modules import the fixtures they use (``from tests.support.s3 import s3_env, ...``); they
are session-scoped, so import them in one module only, or each module gets its own buckets.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]  # boto3 ships no types
import pytest
from botocore.config import Config  # type: ignore[import-untyped]  # botocore ships no types

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ceph-rgw.sh"
MIN_DAYS = 2  # the tests' policy minimum; the locked bucket's default is MIN_DAYS + 1
START_TIMEOUT_S = 600


@dataclass(frozen=True)
class S3Env:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    ceph_dir: Path

    def client(self, *, max_attempts: int = 3, connect_timeout: float = 10,
               read_timeout: float = 60) -> Any:
        """A plain boto3 client for this RGW (the test's "attacker" or setup hand)."""
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region,
            config=Config(s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required",
                          retries={"mode": "standard", "max_attempts": max_attempts},
                          connect_timeout=connect_timeout, read_timeout=read_timeout))

    def env(self) -> dict[str, str]:
        """Environment for tools that use the standard AWS credential chain (aws CLI)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region}


def free_port() -> int:
    """A loopback port nobody listens on now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rgw_port() -> int:
    return int(os.environ.get("LIUHEN_RGW_PORT", "7480"))


def rgw_answers(port: int | None = None, *, timeout_s: float = 3.0) -> bool:
    url = f"http://127.0.0.1:{port or rgw_port()}/"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, with an error status: that is an S3 endpoint up
    except (urllib.error.URLError, OSError):
        return False


def rgw(command: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/ceph-rgw.sh COMMAND`` on this run's cluster (or the one ``env`` names); a
    failure raises with the script's output."""
    done = subprocess.run([str(SCRIPT), command], capture_output=True, text=True, check=False,
                          timeout=START_TIMEOUT_S, env={**os.environ, **_OWN_VARS, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"scripts/ceph-rgw.sh {command} failed ({done.returncode}):\n"
                           f"{done.stdout}\n{done.stderr}")
    return done


def load_env(directory: Path) -> S3Env:
    values: dict[str, str] = {}
    for line in (directory / "s3.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return S3Env(endpoint_url=values["LIUHEN_S3_ENDPOINT_URL"],
                 access_key=values["AWS_ACCESS_KEY_ID"],
                 secret_key=values["AWS_SECRET_ACCESS_KEY"],
                 region=values.get("AWS_DEFAULT_REGION", "us-east-1"), ceph_dir=directory)


_OWN_VARS: dict[str, str] = {}
"""Its folder and ports, as ``scripts/ceph-rgw.sh`` reads them."""


@functools.cache
def _own_cluster() -> S3Env:
    """Start a cluster for this run (once per process) in a fresh folder on free ports;
    removed at exit."""
    directory = Path(tempfile.mkdtemp(prefix="liuhen-ceph-"))
    port = free_port()
    env = {"LIUHEN_CEPH_DIR": str(directory), "LIUHEN_RGW_PORT": str(port),
           "LIUHEN_CEPH_MON_PORT": str(free_port())}

    def remove() -> None:
        subprocess.run([str(SCRIPT), "reset"], capture_output=True, check=False,
                       env={**os.environ, **env}, timeout=START_TIMEOUT_S)
        shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
    _OWN_VARS.update(env)
    rgw("start")
    if not rgw_answers(port):
        raise RuntimeError(f"RGW on port {port} does not answer after start")
    return load_env(directory)


def ensure_rgw(directory: Path | None = None, *, port: int | None = None,
               env: dict[str, str] | None = None) -> S3Env:
    """This run's RGW credentials. Without arguments and without ``LIUHEN_CEPH_DIR`` set, the
    run's own cluster (started once, removed at exit); otherwise the named cluster, started
    when it does not answer and left running. Raises when it cannot be started."""
    if directory is None and "LIUHEN_CEPH_DIR" not in os.environ:
        return _own_cluster()
    directory = directory or Path(os.environ["LIUHEN_CEPH_DIR"])
    if not rgw_answers(port) or not (directory / "s3.env").exists():
        rgw("start", env=env)
    if not rgw_answers(port):
        raise RuntimeError(f"RGW on port {port or rgw_port()} does not answer after start")
    return load_env(directory)


def new_bucket(client: Any, label: str, *, lock: bool, versioning: bool = False,
               default: tuple[str, int] | None = None) -> str:
    """A fresh, uniquely named bucket; ``default`` = (mode, days) of the Object Lock rule."""
    name = f"liuhen-{label}-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    if versioning and not lock:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if default is not None:
        mode, days = default
        client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}}})
    return name


@dataclass(frozen=True)
class Buckets:
    locked: str
    """Object Lock + COMPLIANCE default of MIN_DAYS + 1 days: fit for evidence."""
    plain: str
    """No versioning, no Object Lock."""
    versioning_only: str
    governance: str
    """Object Lock with a GOVERNANCE default rule (long enough)."""
    short: str
    """Object Lock with a COMPLIANCE default shorter than MIN_DAYS."""


@pytest.fixture(scope="session")
def s3_env() -> S3Env:
    """The running RGW's credentials; FAILS (never skips) when RGW cannot be started."""
    try:
        return ensure_rgw()
    except (RuntimeError, OSError, subprocess.TimeoutExpired, KeyError) as exc:
        pytest.fail(f"no S3 Object Lock server: Ceph RGW could not be started ({exc}); run "
                    "scripts/ceph-rgw.sh install", pytrace=False)


@pytest.fixture(scope="session")
def s3_admin(s3_env: S3Env) -> Any:
    return s3_env.client()


@pytest.fixture(scope="session")
def buckets(s3_admin: Any) -> Buckets:
    return Buckets(
        locked=new_bucket(s3_admin, "locked", lock=True, default=("COMPLIANCE", MIN_DAYS + 1)),
        plain=new_bucket(s3_admin, "plain", lock=False),
        versioning_only=new_bucket(s3_admin, "versioned", lock=False, versioning=True),
        governance=new_bucket(s3_admin, "governance", lock=True,
                              default=("GOVERNANCE", MIN_DAYS + 1)),
        short=new_bucket(s3_admin, "short", lock=True, default=("COMPLIANCE", MIN_DAYS - 1)),
    )


class FaultyClient:
    """Wraps a boto3 client; ``hooks[name]`` replaces method ``name`` and gets the real one.

    Counts every call by method name in ``calls`` (tests assert which requests were made).
    """

    def __init__(self, inner: Any, **hooks: Callable[..., Any]) -> None:
        self._inner = inner
        self._hooks = hooks
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._inner, name)
        if not callable(real) or name.startswith("_") or name in ("get_paginator", "meta"):
            return real
        hook = self._hooks.get(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] = self.calls.get(name, 0) + 1
            return hook(real, *args, **kwargs) if hook else real(*args, **kwargs)

        return call
