"""The monitoring history of both backends: retention by age and by count, appends that never change
what is recorded, a torn line, concurrent writers; the PostgreSQL table on a real server."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timedelta, timezone

import psycopg

from reconciler.states.history import LocalHistory, Retention
from reconciler.states.local import LocalStateBackend

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sample(t: datetime, n: int) -> dict:
    return {"format": 2, "timestamp": t.isoformat().replace("+00:00", "Z"), "command": "report", "n": n,
            "pools": {}, "scopes": {}}


def test_count_retention_reads_exactly_and_compacts_with_slack(tmp_path):
    store = LocalStateBackend(tmp_path).history()
    keep = Retention(max_age_days=365, max_samples=20)
    path = tmp_path / "report-history.jsonl"
    for i in range(35):
        store.append(sample(at(i), i), keep, at(i))
        # reading applies the retention exactly; the file is bounded by it plus the slack (at least 10)
        assert [s["n"] for s in store.read(keep, at(i))] == list(range(max(0, i - 19), i + 1))
        assert len(path.read_text().splitlines()) <= 20 + 10
    # compacted once, when the 31st line made it 11 over: the newest 20 kept (11..30), then 31..34 appended
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == list(range(11, 35))
    assert not list(tmp_path.glob(".*.tmp"))


def test_age_retention(tmp_path):
    store = LocalHistory(tmp_path / "h.jsonl")
    keep = Retention(max_age_days=10, max_samples=1000)
    for day in range(30):
        store.append(sample(T0 + timedelta(days=day), day), keep, T0 + timedelta(days=day))
    now = T0 + timedelta(days=29)
    assert [s["n"] for s in store.read(keep, now)] == list(range(19, 30))  # 10 days back, the cutoff day included
    lines = [json.loads(x)["n"] for x in (tmp_path / "h.jsonl").read_text().splitlines()]
    # compacted once the oldest is past 10 days by the grace of a day, so at most 12 days are on disk
    assert lines[-1] == 29 and lines[0] >= 29 - 12 and lines == list(range(lines[0], 30))
    assert [s["n"] for s in store.read(Retention(2, 1000), now)] == [27, 28, 29]  # a smaller retention: in force at once


def test_appends_never_change_recorded_bytes_and_a_torn_line_is_skipped(tmp_path):
    path = tmp_path / "h.jsonl"
    store = LocalHistory(path)
    keep = Retention(365, 1000)
    store.append(sample(at(0), 0), keep, at(0))
    first = path.read_bytes()
    with open(path, "ab") as f:
        f.write(b'{"format": 2, "timest')  # a crash mid-append
    store.append(sample(at(1), 1), keep, at(1))
    data = path.read_bytes()
    assert data.startswith(first + b'{"format": 2, "timest\n')  # recorded bytes untouched; a fresh line started
    assert [s["n"] for s in store.read(keep, at(1))] == [0, 1]


def _writer(path: str, base: int) -> None:
    store = LocalHistory(path)  # a separate process, as two scheduled runs would be
    for i in range(40):
        store.append(sample(at(base + i), base + i), Retention(365, 50), at(100))


def test_concurrent_writers_lose_nothing_across_compactions(tmp_path):
    path = tmp_path / "h.jsonl"
    procs = [multiprocessing.get_context("spawn").Process(target=_writer, args=(str(path), base)) for base in (0, 1000)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    # 80 appends, compactions down to the newest 50 by timestamp: the writer with the later timestamps keeps all 40
    assert all(isinstance(x, dict) for x in lines) and len(lines) <= 60
    assert {x["n"] for x in lines} >= set(range(1000, 1040))
    kept = LocalHistory(path).read(Retention(365, 50), at(100))
    assert [s["n"] for s in kept][-40:] == list(range(1000, 1040)) and len(kept) == 50


def test_postgres_history_retention_and_rows_never_updated(pg_backends, pg_conninfo):
    prod, other = pg_backends("prod"), pg_backends("other")
    keep = Retention(max_age_days=10, max_samples=5)
    for i in range(8):
        prod.history().append(sample(at(i), i), keep, at(i))
    other.history().append(sample(at(0), 100), keep, at(0))
    assert [s["n"] for s in prod.history().read(keep, at(8))] == [3, 4, 5, 6, 7]  # the newest 5
    assert [s["n"] for s in other.history().read(keep, at(8))] == [100]  # workspaces apart
    with psycopg.connect(pg_conninfo) as conn:
        rows = conn.execute("SELECT seq, command, sample->>'n' FROM ipamctl.history WHERE workspace = 'prod' "
                            "ORDER BY seq").fetchall()
        assert [(r[1], int(r[2])) for r in rows] == [("report", n) for n in range(3, 8)]
        assert [r[0] for r in rows] == sorted(r[0] for r in rows)
        seqs = [r[0] for r in rows]
        assert conn.execute("SELECT max(version) FROM ipamctl.schema_migrations").fetchone()[0] == 3
    # ten days later: the age retention drops the old ones as the next is appended
    later = at(5.5) + timedelta(days=10)  # the cutoff falls between the samples taken at minutes 5 and 6
    prod.history().append(sample(later, 8), keep, later)
    assert [s["n"] for s in prod.history().read(keep, later)] == [6, 7, 8]
    with psycopg.connect(pg_conninfo) as conn:
        left = [r[0] for r in conn.execute("SELECT seq FROM ipamctl.history WHERE workspace = 'prod' ORDER BY seq")]
    assert len(left) == 3 and left[:2] == seqs[-2:]  # the rows kept are the same rows, none rewritten


def test_postgres_history_keeps_big_integers_exactly(pg_backend):
    s = {**sample(at(0), 0), "pools": {"v6": {"total": 2**80 + 1}}}
    pg_backend.history().append(s, Retention(), at(0))
    assert pg_backend.history().read(Retention(), at(0))[0]["pools"]["v6"]["total"] == 2**80 + 1
