"""Clinician feedback on answers, kept in SQLite beside the index (one connection per call)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    build_id TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    comment TEXT NOT NULL
)
"""


def _connect(path: Path) -> sqlite3.Connection:
    """A short-lived connection that waits for other writers instead of failing."""
    db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return db


def record_feedback(
    path: Path | str,
    question: str,
    answer_json: dict | str,
    build_id: str,
    helpful: bool,
    comment: str = "",
) -> int:
    """Append one feedback row (UTC timestamp); returns its id. Safe for concurrent writers."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = answer_json if isinstance(answer_json, str) else json.dumps(answer_json)
    row = (
        datetime.now(UTC).isoformat(timespec="seconds"),
        question,
        payload,
        build_id,
        int(bool(helpful)),
        comment or "",
    )
    with closing(_connect(path)) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(SCHEMA)
            cur = db.execute(
                "INSERT INTO feedback (created_at, question, answer_json, build_id, helpful,"
                " comment) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(cur.lastrowid)


def read_feedback(path: Path | str) -> list[dict]:
    """All feedback rows, oldest first; empty when nothing was recorded yet."""
    path = Path(path)
    if not path.is_file():
        return []
    with closing(_connect(path)) as db:
        db.row_factory = sqlite3.Row
        has_table = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='feedback'"
        ).fetchone()
        if not has_table:
            return []
        rows = db.execute("SELECT * FROM feedback ORDER BY id").fetchall()
    return [{**dict(r), "helpful": bool(r["helpful"])} for r in rows]
