"""Conversations that outlive the server: one SQLite file, written as each message completes.

Every write is its own transaction in WAL mode, so a server killed mid-answer loses at most the
answer it was writing; the question and every earlier turn are there after a restart. Each call opens
its own connection, which makes the store safe to share between the request threads.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from evolve.errors import EvolveError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, model TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL, content TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation, id);
"""


class ConversationNotFound(EvolveError):
    """No conversation has this id."""


@dataclass
class Message:
    role: str  # "user" or "assistant"
    content: str
    details: dict = field(default_factory=dict)  # an answer's steps, scores, votes, mode and tokens
    created: float = 0.0


@dataclass
class Conversation:
    id: str
    title: str
    model: str
    created: float
    updated: float
    messages: list[Message] = field(default_factory=list)


class ConversationStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(str(self.path), timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            with conn:
                yield conn
        finally:
            conn.close()

    def create(self, title: str, model: str) -> str:
        cid = uuid.uuid4().hex[:12]
        now = time.time()
        with self._connect() as conn:
            conn.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)", (cid, _title(title), model, now, now))
        return cid

    def append(self, cid: str, role: str, content: str, details: dict | None = None) -> None:
        now = time.time()
        with self._connect() as conn:
            if conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, cid)).rowcount == 0:
                raise ConversationNotFound(f"no conversation '{cid}'", where="conversation",
                                           fix="list the conversations and pick one of their ids")
            conn.execute("INSERT INTO messages (conversation, role, content, details, created) VALUES (?, ?, ?, ?, ?)",
                         (cid, role, content, json.dumps(details or {}), now))

    def list(self, limit: int = 100) -> list[Conversation]:
        """Newest first, without their messages."""
        with self._connect() as conn:
            rows = conn.execute("SELECT id, title, model, created, updated FROM conversations "
                                "ORDER BY updated DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
        return [Conversation(*row) for row in rows]

    def get(self, cid: str) -> Conversation:
        with self._connect() as conn:
            row = conn.execute("SELECT id, title, model, created, updated FROM conversations WHERE id = ?",
                               (cid,)).fetchone()
            if row is None:
                raise ConversationNotFound(f"no conversation '{cid}'", where="conversation",
                                           fix="list the conversations and pick one of their ids")
            messages = conn.execute("SELECT role, content, details, created FROM messages WHERE conversation = ? "
                                    "ORDER BY id", (cid,)).fetchall()
        return Conversation(*row, messages=[Message(r, c, json.loads(d), t) for r, c, d, t in messages])

    def delete(self, cid: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM conversations WHERE id = ?", (cid,))

    # -- export ------------------------------------------------------------------------------------

    def export_json(self, cid: str) -> str:
        c = self.get(cid)
        return json.dumps({"id": c.id, "title": c.title, "model": c.model, "created": c.created,
                           "messages": [m.__dict__ for m in c.messages]}, indent=2, ensure_ascii=False)

    def export_markdown(self, cid: str) -> str:
        c = self.get(cid)
        lines = [f"# {c.title}", "", f"model `{c.model}`", ""]
        for m in c.messages:
            lines += [f"## {m.role}", ""]
            for step in m.details.get("steps") or []:
                score = f" (PRM {step['score']:.2f})" if step.get("score") is not None else ""
                lines.append(f"- Step {step['index']}: {step['text']}{score}")
            if m.details.get("steps"):
                lines.append("")
            lines += [m.content, ""]
        return "\n".join(lines)


def _title(text: str, width: int = 60) -> str:
    flat = " ".join(text.split()) or "untitled"
    return flat if len(flat) <= width else flat[: width - 1] + "…"
