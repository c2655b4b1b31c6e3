"""Clinician feedback and answer permalinks, kept private in SQLite beside the index.

What is stored (see docs/app.md, "What bala stores"):
- `feedback`: time, build id, answer id, verdict (helpful or not) and the quoted source ids.
  The question and the comment only when the clinician ticked "include my question", and
  then with identifiers masked (app/privacy.py). The signed-in user's id only when sign-in is on.
- `answers`: what an answer showed (quotes, sources, build id), keyed by a random answer id,
  so a permalink (build id + answer id) can re-open it. Never the question text: the
  `question` and `missing_terms` fields are removed before the row is written.
The file is created mode 0600 (owner only) and put back to 0600 whenever it is opened.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.privacy import mask_identifiers

BUSY_TIMEOUT_S = 30.0
FILE_MODE = 0o600
LEGACY_TABLE = "feedback_legacy_v1"
QUESTION_FIELDS = ("question", "missing_terms")  # parts of an answer made of the question

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    build_id TEXT NOT NULL,
    answer_id TEXT NOT NULL DEFAULT '',
    helpful INTEGER NOT NULL,
    source_ids TEXT NOT NULL,
    user_id TEXT,
    question TEXT,
    comment TEXT
)""",
    """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY,
    build_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    user_id TEXT,
    answer_json TEXT NOT NULL
)""",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _private_file(path: Path) -> None:
    """Create `path` owner-only if absent; tighten it (and SQLite's side files) if present."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
    os.close(fd)
    for p in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal")):
        try:  # another writer's journal may vanish between any two calls: no exists() check
            if (os.stat(p).st_mode & 0o777) != FILE_MODE:
                os.chmod(p, FILE_MODE)
        except FileNotFoundError:
            continue


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner can read (an export holds what feedback holds)."""
    _private_file(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _connect(path: Path) -> sqlite3.Connection:
    """A short-lived connection that waits for other writers instead of failing."""
    _private_file(path)
    db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return db


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _ensure_schema(db: sqlite3.Connection) -> None:
    """Create the tables; a feedback table of the old layout (full question and answer in
    plain text) is renamed to feedback_legacy_v1, for `bala feedback export|purge`."""
    if "answer_json" in _columns(db, "feedback"):
        db.execute(f"ALTER TABLE feedback RENAME TO {LEGACY_TABLE}")
    for statement in SCHEMA:  # not executescript: that would commit the open transaction
        db.execute(statement)


def _write(path: Path | str, sql: str, params: tuple) -> int:
    with closing(_connect(Path(path))) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            _ensure_schema(db)
            cur = db.execute(sql, params)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(cur.lastrowid or 0)


def record_feedback(
    path: Path | str,
    *,
    build_id: str,
    helpful: bool,
    source_ids: Iterable[str],
    answer_id: str = "",
    user_id: str | None = None,
    question: str | None = None,
    comment: str | None = None,
) -> int:
    """Append one feedback row (UTC timestamp); returns its id. Safe for concurrent writers.

    Pass `question`/`comment` only when the clinician chose to include them; both are
    masked here, so no caller can store an unmasked identifier by mistake.
    """
    masked_q = mask_identifiers(question.strip()) if question else None
    masked_c = mask_identifiers(comment.strip()) if comment and comment.strip() else None
    row = (
        _now(),
        build_id,
        answer_id,
        int(bool(helpful)),
        json.dumps(sorted(set(source_ids))),
        user_id or None,
        masked_q,
        masked_c,
    )
    return _write(
        path,
        "INSERT INTO feedback (created_at, build_id, answer_id, helpful, source_ids, user_id,"
        " question, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )


def answer_without_question(answer_json: dict) -> dict:
    """The answer as stored for a permalink: everything shown except the question's text."""
    return {k: v for k, v in answer_json.items() if k not in QUESTION_FIELDS}


def store_answer(
    path: Path | str, answer_id: str, answer_json: dict, user_id: str | None = None
) -> None:
    """Keep what an answer showed (no question) under `answer_id`, for its permalink."""
    kept = answer_without_question(answer_json)
    _write(
        path,
        "INSERT OR REPLACE INTO answers (answer_id, build_id, created_at, user_id, answer_json)"
        " VALUES (?, ?, ?, ?, ?)",
        (answer_id, str(kept.get("build_id", "")), _now(), user_id or None, json.dumps(kept)),
    )


def _read(path: Path | str, table: str, where: str = "", params: tuple = ()) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    with closing(_connect(path)) as db:
        db.row_factory = sqlite3.Row
        if not _columns(db, table):
            return []
        order = "rowid"
        rows = db.execute(f"SELECT * FROM {table} {where} ORDER BY {order}", params).fetchall()
    return [dict(r) for r in rows]


def load_answer(path: Path | str, build_id: str, answer_id: str) -> dict | None:
    """The stored answer of a permalink, or None when it is unknown (or of another build)."""
    rows = _read(path, "answers", "WHERE answer_id = ? AND build_id = ?", (answer_id, build_id))
    return json.loads(rows[0]["answer_json"]) if rows else None


def read_feedback(path: Path | str) -> list[dict]:
    """All feedback rows, oldest first; empty when nothing was recorded yet."""
    rows = _read(path, "feedback")
    for r in rows:
        r["helpful"] = bool(r["helpful"])
        r["source_ids"] = json.loads(r["source_ids"])
    return rows


def export_feedback(path: Path | str) -> dict:
    """Everything the file holds, for the maintainer: feedback, answers and legacy rows."""
    return {
        "feedback": read_feedback(path),
        "answers": [
            {**r, "answer_json": json.loads(r["answer_json"])} for r in _read(path, "answers")
        ],
        "legacy_feedback": _read(path, LEGACY_TABLE),
    }


def purge_feedback(path: Path | str, older_than_days: float | None = None) -> dict[str, int]:
    """Delete rows (all, or those older than N days) from every table; counts per table."""
    path = Path(path)
    if not path.is_file():
        return {}
    cutoff = None
    if older_than_days is not None:
        cutoff = (datetime.now(UTC) - timedelta(days=older_than_days)).isoformat(timespec="seconds")
    counts: dict[str, int] = {}
    with closing(_connect(path)) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            _ensure_schema(db)
            for table in ("feedback", "answers", LEGACY_TABLE):
                if not _columns(db, table):
                    continue
                if cutoff is None:
                    cur = db.execute(f"DELETE FROM {table}")
                else:
                    cur = db.execute(f"DELETE FROM {table} WHERE created_at < ?", (cutoff,))
                counts[table] = cur.rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("VACUUM")  # deleted text must not linger in free pages
    return counts
