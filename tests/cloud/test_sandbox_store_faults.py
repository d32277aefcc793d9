"""The sandbox database's faults end in errors with codes (issue 17, item 18): a garbage file, a full
disk at commit (a real SQLITE_FULL, from a page limit), and read-only opening."""

from __future__ import annotations

import os
import sqlite3

import pytest

from reconciler.cloud.sandbox import SandboxCloud
from reconciler.cloud.store import Store, read_only
from reconciler.errors import CloudError


def test_a_garbage_file_is_sandbox_damaged(tmp_path):
    db = tmp_path / "sandbox.db"
    db.write_bytes(b"not a database " * 400)
    for path in (db, read_only(db)):
        with pytest.raises(CloudError) as caught:
            Store(path)
        assert caught.value.code == "Sandbox.Damaged" and str(db) in caught.value.detail


def test_a_full_disk_at_commit_is_a_clean_refusal(tmp_path):
    db = tmp_path / "sandbox.db"
    cloud = SandboxCloud(db)
    cloud.call("CreateVpc", {"RegionId": "cn-hangzhou", "CidrBlock": "10.0.0.0/16"})
    store = cloud.store
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count={pages}")  # the database cannot grow: SQLITE_FULL
    before = store.all("vpc")
    with pytest.raises(CloudError) as caught:
        for i in range(200):
            cloud.call("CreateVpc", {"RegionId": "cn-hangzhou", "CidrBlock": f"10.{i + 1}.0.0/16",
                                     "Description": "x" * 2000})
    assert caught.value.code == "Sandbox.StorageFull" and caught.value.http_status == 400
    assert "rolled back" in caught.value.detail
    kept = len(store.all("vpc"))
    cloud.close()
    reopened = SandboxCloud(db)
    assert len(reopened.store.all("vpc")) == kept >= len(before)  # memory and disk agree
    reopened.close()


def test_read_only_opening_creates_and_changes_nothing(tmp_path):
    db = tmp_path / "sandbox.db"
    cloud = SandboxCloud(db)
    cloud.call("CreateVpc", {"RegionId": "cn-hangzhou", "CidrBlock": "10.0.0.0/16"})
    cloud.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    data, names = db.read_bytes(), sorted(os.listdir(tmp_path))
    reader = SandboxCloud(read_only(db))
    assert len(reader.call("DescribeVpcs", {"RegionId": "cn-hangzhou"})["Vpcs"]["Vpc"]) == 1
    with pytest.raises(CloudError) as caught:
        reader.call("CreateVpc", {"RegionId": "cn-hangzhou", "CidrBlock": "10.1.0.0/16"})
    assert caught.value.code == "Sandbox.WriteFailed"
    reader.close()
    assert db.read_bytes() == data and sorted(os.listdir(tmp_path)) == names
