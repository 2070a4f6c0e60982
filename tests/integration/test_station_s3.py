"""The station on a real S3 Object Lock server (Ceph RGW): `liuhen demo --store s3://…`, then
`liuhen verify` and `liuhen fixity`, and an object version replaced behind the pipeline's back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.support.s3 import ensure_rgw, new_bucket

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_demo_on_s3_then_fixity_catches_a_replaced_version(tmp_path: Path) -> None:
    s3 = ensure_rgw()
    admin = s3.client()
    bucket = new_bucket(admin, "station", lock=True, default=("COMPLIANCE", 3))
    env = {"LIUHEN_S3_ENDPOINT_URL": s3.endpoint_url, "LIUHEN_S3_REGION": s3.region,
           "LIUHEN_RETENTION_DAYS": "2", **s3.env()}
    data = str(tmp_path / "d")
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "--data-dir", data, "--recorders", "1", "--store",
                                 f"s3://{bucket}/bureau-01"], env=env)
    assert result.exit_code == 0, result.output
    assert "10 个文件中 10 个已按原样存储并校验" in result.output and "audit OK" in result.output
    sha = re.search(r"liuhen verify (\w{64})", result.output)
    assert sha is not None
    store = ["--store", f"s3://{bucket}/bureau-01"]
    result = runner.invoke(app, ["verify", sha.group(1), "--data-dir", data, *store], env=env)
    assert result.exit_code == 0, result.output
    assert f"s3://{bucket}/bureau-01" in result.output and "COMPLIANCE" in result.output
    result = runner.invoke(app, ["fixity", "--data-dir", data, *store], env=env)
    assert result.exit_code == 0, result.output
    # Encrypted at rest (docs/adr/0010-sm4-envelope.md): no 64-byte window of any recording the
    # simulated recorder held is in any version in the bucket.
    originals = [p.read_bytes() for p in (tmp_path / "d" / "simulator" / "media").iterdir()
                 if p.is_file() and p.stat().st_size >= 64]
    assert originals
    stored = [admin.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
              ["Body"].read()
              for v in admin.list_object_versions(Bucket=bucket).get("Versions", [])
              if "/.liuhen-canary/" not in f"/{v['Key']}"]
    assert len(stored) >= 10
    windows = [o[i:i + 64] for o in originals for i in range(0, len(o) - 63, 1024)]
    assert not any(w in blob for w in windows for blob in stored)
    assert any(w in blob for w in windows for blob in originals)  # the scan can find them
    # Every original is locked COMPLIANCE on the server itself, with a real version id.
    key = f"bureau-01/originals/{sha.group(1)[:2]}/{sha.group(1)}"
    head = admin.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["VersionId"]
    # Someone with bucket write access puts other bytes under the same key: a new version.
    admin.put_object(Bucket=bucket, Key=key, Body=b"replaced behind the pipeline's back")
    result = runner.invoke(app, ["fixity", "--data-dir", data, *store], env=env)
    assert result.exit_code == 1
    assert f"FIXITY FAILED originals/{sha.group(1)[:2]}/{sha.group(1)}" in result.output
    assert "1 failed" in result.output
