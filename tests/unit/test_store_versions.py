"""Table versions and cached reads: a change by any process is seen by the next read, in both
stores; maintenance (compaction, expired snapshots) never makes a changed table look unchanged."""
from __future__ import annotations

import subprocess
import sys

import pytest

from core.settings import REPO_ROOT
from core.workspace import Workspace
from core.workspace.maintenance import compact
from core.workspace.readcache import cached_read
from core.workspace.versions import MISSING, parse_changes


@pytest.fixture(params=["embedded", "team"])
def store(request, tmp_path, monkeypatch) -> str:
    if request.param == "team":
        return request.getfixturevalue("team_store")
    monkeypatch.delenv("TRADEOFF_STORE", raising=False)
    return str(tmp_path / "ws")


@pytest.fixture
def lake(store):
    ws = Workspace(store)
    ws.write(lambda c: c.execute("create table a (x integer); create table b (y integer)"))
    yield ws
    ws.close()


def in_other_process(store: str, sql: str) -> None:
    """``sql`` committed by another process through its own Workspace."""
    code = ("import sys; from core.workspace import Workspace; ws = Workspace(sys.argv[1]); "
            "ws.write(lambda c: c.execute(sys.argv[2])); ws.close()")
    subprocess.run([sys.executable, "-c", code, store, sql], cwd=REPO_ROOT, check=True, timeout=120)


def test_another_process_changing_a_table_bumps_its_version_only(lake, store):
    before = lake.table_versions(["a", "b"])
    assert lake.table_versions(["a", "b"]) == before  # nothing committed: same answer
    in_other_process(store, "insert into b values (1)")
    after = lake.table_versions(["a", "b"])
    assert after["b"] > before["b"] and after["a"] == before["a"]
    for sql in ("delete from b", "insert into b select range from range(500)",  # a Parquet file
                "update b set y = y + 1", "alter table b add column z integer"):
        in_other_process(store, sql)
        now = lake.table_versions(["a", "b"])
        assert now["b"] > after["b"] and now["a"] == before["a"], sql
        after = now


def test_a_table_dropped_and_created_again_or_missing_changes(lake, store):
    assert lake.table_versions(["nope"]) == {"nope": MISSING}
    before = lake.table_versions(["a", "b"])
    in_other_process(store, "drop table a; create table a (x integer)")
    after = lake.table_versions(["a", "b"])
    assert after["a"] > before["a"] and after["b"] == before["b"]
    in_other_process(store, "drop table a")
    assert lake.table_versions(["a"]) == {"a": MISSING}


def test_compaction_and_expired_snapshots_never_look_unchanged(lake, store):
    lake.table_versions(["a", "b"])
    for _ in range(3):  # small files to merge, inlined rows to flush
        lake.write(lambda c: c.execute("insert into b select range from range(300)"))
        lake.write(lambda c: c.execute("insert into a values (1)"))
    seen = lake.table_versions(["a", "b"])
    # another process changes b, then every snapshot but the newest is expired before this
    # process looks again: the change it never saw must still show
    in_other_process(store, "insert into b values (7)")
    compact(lake, grace="0 seconds")
    after = lake.table_versions(["a", "b"])
    assert after["b"] > seen["b"] and after["a"] >= seen["a"]
    assert lake.table_versions(["a", "b"]) == after  # and then stable again


def test_a_change_whose_snapshot_expired_unseen_still_shows(lake, store):
    seen = lake.table_versions(["a", "b"])
    in_other_process(store, "insert into b values (1)")
    in_other_process(store, "insert into a values (1)")  # b's snapshot is no longer the newest
    lake.write(lambda c: c.execute(  # expired (no compaction, which would name b itself)
        f"select count(*) from ducklake_expire_snapshots('{lake.alias}', older_than => now())").fetchall())
    after = lake.table_versions(["a", "b"])
    assert after["b"] > seen["b"] and after["a"] > seen["a"]


def test_a_process_starting_after_expiry_still_sees_later_changes(lake, store):
    lake.write(lambda c: c.execute("insert into a values (1)"))
    compact(lake, grace="0 seconds")
    fresh = Workspace(store)  # its first look is at a catalog with no history left
    try:
        first = fresh.table_versions(["a", "b"])
        in_other_process(store, "insert into a values (2)")
        second = fresh.table_versions(["a", "b"])
        assert second["a"] > first["a"] and second["b"] == first["b"]
    finally:
        fresh.close()


def test_cached_read_reads_again_only_after_a_change_by_any_process(lake, store):
    reads = []

    def total():
        reads.append(1)
        return lake.cursor().execute("select count(*) from b").fetchone()[0]

    assert cached_read(lake, ("b",), "count-b", total) == 0
    assert cached_read(lake, ("b",), "count-b", total) == 0
    assert len(reads) == 1  # unchanged: not read again
    in_other_process(store, "insert into b values (1), (2)")
    assert cached_read(lake, ("b",), "count-b", total) == 2  # seen at once, no waiting
    lake.write(lambda c: c.execute("insert into a values (1)"))
    assert cached_read(lake, ("b",), "count-b", total) == 2
    assert len(reads) == 2  # a change of another table: b not read again


def test_a_cached_result_is_the_callers_own_copy(lake):
    first = cached_read(lake, ("a",), "rows", lambda: {"rows": [1, 2]})
    first["rows"].append(3)
    assert cached_read(lake, ("a",), "rows", lambda: {"rows": []}) == {"rows": [1, 2]}


def test_changes_text_names_tables_or_counts_as_a_change_of_every_table():
    assert parse_changes("inserted_into_table:5,deleted_from_table:3,merge_adjacent:9") == ({3, 5, 9}, False)
    assert parse_changes('created_table:"main"."odd,name",inlined_insert:4') == ({4}, False)
    assert parse_changes("dropped_view:2,compacted_table:8") == ({2, 8}, False)
    assert parse_changes('renamed_something:"x"')[1] is True


def test_versions_shared_asks_the_catalog_once_until_this_thread_writes(lake, store, monkeypatch):
    """The store agent's cycle: many cached reads, one catalog query; a write of its own, or
    another process's commit seen in the next block, makes the versions read again."""
    from core.workspace.versions import TableVersions

    asked = []
    real = TableVersions.versions
    monkeypatch.setattr(TableVersions, "versions", lambda self, cur, tables: asked.append(tables) or
                        real(self, cur, tables))
    plain = lake.table_versions(["a", "b", "nope"])
    with lake.versions_shared():
        assert lake.table_versions(["a"]) == {"a": plain["a"]}
        assert lake.table_versions(["b", "nope"]) == {"b": plain["b"], "nope": MISSING}
        assert lake.table_versions(["a", "b"]) == {"a": plain["a"], "b": plain["b"]}
        assert len(asked) == 2 and asked[1] is None  # the plain call, then one read of every table
        lake.write(lambda c: c.execute("insert into a values (1)"))
        after = lake.table_versions(["a", "b"])
        assert after["a"] > plain["a"] and after["b"] == plain["b"] and len(asked) == 3
        in_other_process(store, "insert into b values (2)")
        assert lake.table_versions(["b"])["b"] == plain["b"] and len(asked) == 3  # this block's view
    assert lake.table_versions(["b"])["b"] > plain["b"] and len(asked) == 4  # the next read sees it
    with lake.versions_shared():
        with lake.versions_shared():  # nested: the inner block ends, the outer one goes on
            lake.table_versions(["a"])
        lake.table_versions(["a"])
    assert len(asked) == 6
