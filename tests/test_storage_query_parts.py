"""storage.where.Where and storage.columns.Columns against a real SQLite table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cctvctl.storage.columns import Columns
from cctvctl.storage.where import Where

ROWS = [
    (1, "cam-1", "open", 1_700_000_000.0, None),
    (2, "cam-2", "done", 1_700_000_060.0, 1_700_000_120.5),
    (3, "cam-1", "done", 1_700_000_180.0, None),
]


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    db.execute('CREATE TABLE jobs (id INTEGER, camera TEXT, state TEXT, start REAL, "end" REAL)')
    db.executemany("INSERT INTO jobs VALUES (?, ?, ?, ?, ?)", ROWS)
    try:
        yield db
    finally:
        db.close()


def ids(conn: sqlite3.Connection, where: Where) -> list[int]:
    sql = f"SELECT id FROM jobs {where.sql}ORDER BY id LIMIT ?"
    return [r[0] for r in conn.execute(sql, where.params(10))]


def test_no_filter_is_no_where_clause(conn: sqlite3.Connection) -> None:
    where = Where()
    where.equals("camera", None)
    where.among("state", None)
    assert where.sql == ""
    assert ids(conn, where) == [1, 2, 3]


def test_filters_are_anded_and_bound_in_order(conn: sqlite3.Connection) -> None:
    where = Where()
    where.add("start >= ?", 1_700_000_060.0)
    where.equals("camera", "cam-1")
    assert where.params(10) == (1_700_000_060.0, "cam-1", 10)
    assert ids(conn, where) == [3]


def test_among_an_empty_list_matches_nothing(conn: sqlite3.Connection) -> None:
    where = Where()
    where.among("state", [])
    assert ids(conn, where) == []


def test_among_several_values(conn: sqlite3.Connection) -> None:
    where = Where()
    where.among("state", ["open", "done"])
    where.equals("camera", "cam-1")
    assert ids(conn, where) == [1, 3]


def test_a_value_is_bound_not_written_into_the_sql(conn: sqlite3.Connection) -> None:
    where = Where()
    where.equals("camera", "x' OR '1'='1")
    assert "OR" not in where.sql
    assert ids(conn, where) == []


def test_columns_read_a_row_by_name_and_leave_null_unconverted(
    conn: sqlite3.Connection,
) -> None:
    def stamp(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    columns = Columns("id camera state start end", start=stamp, end=stamp)
    assert columns.sql == '"id", "camera", "state", "start", "end"'
    rows = conn.execute(f"SELECT {columns.sql} FROM jobs ORDER BY id").fetchall()
    first, second = columns.read(rows[0]), columns.read(rows[1])
    assert first == {
        "id": 1,
        "camera": "cam-1",
        "state": "open",
        "start": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        "end": None,
    }
    assert second["end"] == datetime(2023, 11, 14, 22, 15, 20, 500000, tzinfo=UTC)


def test_columns_refuse_a_converter_for_a_column_they_do_not_have() -> None:
    with pytest.raises(ValueError, match=r"\['ended'\]"):
        Columns("id start end", ended=float)


def test_columns_refuse_a_row_of_another_length() -> None:
    with pytest.raises(ValueError):
        Columns("id camera").read((1, "cam-1", "extra"))
