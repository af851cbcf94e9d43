"""The steering inbox: an SQLite table in the run folder that `evolve agents feedback` appends to and
the supervisor reads at its next step. SQLite's locking makes writes from another process safe while
the run is going; the supervisor keeps its read cursor in the checkpointed state."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from agents.errors import AgentsError

INBOX_FILE = "inbox.sqlite"
KINDS = ("note", "pin", "reject", "add")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, "
                 "text TEXT NOT NULL, target TEXT, created REAL NOT NULL)")
    return conn


def create(path: Path) -> None:
    """An empty inbox with its table (a run folder holds one from the start)."""
    _connect(path).close()


def post(path: Path, kind: str, text: str = "", target: str | None = None) -> int:
    """Appends one entry and returns its id."""
    if kind not in KINDS:
        raise AgentsError(f"unknown feedback kind '{kind}'", where="inbox", fix=f"use one of: {', '.join(KINDS)}")
    conn = _connect(path)
    try:
        with conn:
            cur = conn.execute("INSERT INTO feedback (kind, text, target, created) VALUES (?, ?, ?, ?)",
                               (kind, text, target, time.time()))
        return int(cur.lastrowid)
    finally:
        conn.close()


def read_since(path: Path, cursor: int) -> list[dict]:
    """Entries with id > cursor, oldest first; none when the inbox does not exist yet."""
    if not path.exists():
        return []
    conn = _connect(path)
    try:
        rows = conn.execute("SELECT id, kind, text, target FROM feedback WHERE id > ? ORDER BY id", (cursor,)).fetchall()
    finally:
        conn.close()
    return [{"entry": r[0], "kind": r[1], "text": r[2], "target": r[3]} for r in rows]
