"""Tree records: one JSON line per question, appended atomically, resumable after `kill -9`.

Each line is written with a single `os.write` on an `O_APPEND` descriptor and fsynced, so a crash
can at worst leave one unterminated last line; opening the file for appending again cuts that
fragment off first. Readers therefore only ever see whole records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from domains import Question
from evolve.config import changed_keys
from evolve.errors import EvolveError
from evolve.search.tree import Tree

RECORD_VERSION = 1


class TreeFileError(EvolveError):
    """A tree file is unreadable, corrupt, or belongs to another domain."""


def build_record(question: Question, tree: Tree, *, domain: str, model: str, config_digest: str,
                 seconds: float, generated_tokens: int) -> dict:
    pos, neg = tree.trajectories()
    return {
        "version": RECORD_VERSION,
        "id": question.id,
        "domain": domain,
        "question": question.question,
        "context": question.context,
        # a list, not a dict: records with 4 and 5 options then share one Arrow schema
        "options": [{"label": k, "text": v} for k, v in (question.options or {}).items()],
        "gold": question.answer,
        "model": model,
        "config": config_digest,
        "nodes": tree.to_dicts(),
        "pos": [asdict(t) for t in pos],
        "neg": [asdict(t) for t in neg],
        "stats": {
            "nodes": len(tree.nodes),
            "finish_leaves": len(tree.finish_leaves()),
            "correct_leaves": len(tree.correct_leaves()),
            "max_depth": max(n.depth for n in tree.nodes),
            "seconds": round(seconds, 3),
            "generated_tokens": generated_tokens,
        },
    }


def _repair_tail(path: Path) -> int:
    """Cut an unterminated last line (a write interrupted by a crash). Returns bytes removed."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return 0
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            cut = chunk.rfind(b"\n")
            if cut != -1:
                keep = start + cut + 1
                fh.truncate(keep)
                return size - keep
            pos = start
        fh.truncate(0)
        return size


def read_records(path: str | Path) -> Iterator[dict]:
    """Whole records of a tree file; an unterminated last line (a crash mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        raise TreeFileError("tree file not found", where=str(path), fix="check the path given to --out")
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                return
            try:
                yield json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise TreeFileError(f"line {number} is not a JSON record ({err})", where=f"{path}:{number}",
                                    fix="move the file aside and search again") from None


def _what_changed(sidecar: Path, settings: dict | None, record: dict, digest: str) -> str:
    """The keys that differ from the settings the file was searched with, or both digests when the file
    has no record of its settings (written before it kept them)."""
    if settings is not None and sidecar.exists():
        changed = changed_keys(json.loads(sidecar.read_text(encoding="utf-8")), settings)
        if changed:
            return "; ".join(changed[:4]) + (f"; and {len(changed) - 4} more" if len(changed) > 4 else "")
    return f"{record.get('config')}, now {digest}"


def count_records(path: str | Path) -> int:
    """Whole records in a tree file (0 when there is none yet)."""
    return sum(1 for _ in read_records(path)) if Path(path).exists() else 0


class TreeWriter:
    """Appends records; knows which questions are already done so a re-run skips them."""

    def __init__(self, path: str | Path, *, domain: str, config_digest: str | None = None, force: bool = False,
                 settings: dict | None = None):
        """`settings` (the config the digest hashes) is kept in `<file>.config.json`, so that a refusal
        can name the keys that changed."""
        self.path = Path(path)
        self.domain = domain
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done: set[str] = set()
        sidecar = self.path.with_name(self.path.name + ".config.json")
        if self.path.exists():
            self.repaired_bytes = _repair_tail(self.path)
            for record in read_records(self.path):
                if record.get("domain") != domain:
                    raise TreeFileError(
                        f"holds trees of domain '{record.get('domain')}', not '{domain}'",
                        where=str(self.path), fix="use another --out file, or the matching --domain",
                    )
                if config_digest and not force and record.get("config") != config_digest:
                    raise TreeFileError(
                        f"was searched with another config ({_what_changed(sidecar, settings, record, config_digest)})",
                        where=str(self.path), fix="keep the old settings, use another --out, or pass --force to mix them",
                    )
                self.done.add(record["id"])
        else:
            self.repaired_bytes = 0
        # written with the first record, so that a search that fails before one leaves nothing behind
        self._sidecar = (sidecar, settings) if settings is not None and (force or not sidecar.exists()) else None

    def append(self, record: dict) -> None:
        if self._sidecar is not None:
            sidecar, settings = self._sidecar
            sidecar.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            self._sidecar = None
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            while written < len(line):  # regular files rarely write short, but never assume
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        self.done.add(record["id"])
