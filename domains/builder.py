"""Creating a user domain from a data file (`evolve domains add`): validate every row, then write atomically."""

from __future__ import annotations

import difflib
import json
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from domains.convert import BadRow, bad_rows_error, load_questions
from domains.domain import SPEC_FILE, Domain
from domains.errors import DomainSpecError
from domains.question import Question
from domains.registry import builtin_names, user_domains_root
from domains.spec import FieldsSpec

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
SEARCH_FILE, DEV_FILE, BAD_ROWS_FILE = "seeds.jsonl", "dev.jsonl", "bad_rows.jsonl"


@dataclass(frozen=True)
class AddResult:
    path: Path
    search_count: int
    dev_count: int
    bad_rows: list[BadRow]
    bad_rows_path: Path | None


def parse_mappings(items: list[str]) -> FieldsSpec:
    """FieldsSpec from `--map KEY=SOURCE` items; KEY is any key of the yaml's `fields` section."""
    values: dict[str, Any] = {}
    allowed = list(FieldsSpec.model_fields)
    for item in items:
        key, sep, source = item.partition("=")
        key = key.strip()
        if not sep or not key or not source.strip():
            raise DomainSpecError(f"--map '{item}' is not KEY=SOURCE", where="--map", fix="e.g. --map question=question.stem --map answer=answerKey")
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise DomainSpecError(f"--map: unknown field '{key}'", where="--map", fix=f"{hint}fields: {', '.join(allowed)}")
        source = source.strip()
        if key == "csv_header":
            values[key] = source.lower() in ("1", "true", "yes")
        elif key in ("context", "id", "explanation", "options") and source.lower() == "none":
            values[key] = None
        else:
            values[key] = source
    try:
        return FieldsSpec(**values)
    except ValidationError as err:
        first = err.errors()[0]
        raise DomainSpecError(f"--map {first['loc'][0]}: {first['msg']}", where="--map", fix="see `evolve domains add --help`") from None


def default_system_prompt(description: str) -> str:
    topic = f" on {description.rstrip('.')}" if description else ""
    return (
        f"You are a careful domain expert answering questions{topic}. Reason step by step, "
        "then state your final answer exactly in the format the question asks for."
    )


def add_domain(
    name: str,
    source: str,
    answer_type: str,
    fields: FieldsSpec,
    *,
    description: str = "",
    skip_bad: bool = False,
    dev_fraction: float = 0.1,
    seed: int = 0,
    force: bool = False,
) -> AddResult:
    """Convert `source` into `$EVOLVE_HOME/domains/<name>/` (domain.yaml, seeds.jsonl, dev.jsonl).

    Writes nothing unless every row is valid, or `skip_bad` is set (the bad rows then go to bad_rows.jsonl).
    """
    target = _check_target(name, force)
    if not 0 <= dev_fraction < 1:
        raise DomainSpecError(f"--dev-fraction {dev_fraction} is outside [0, 1)", where="--dev-fraction", fix="use e.g. 0.1")
    conversion = load_questions(source, fields, answer_type, id_prefix=name)
    if conversion.bad_rows and not skip_bad:
        raise bad_rows_error(conversion, source, fix="fix those rows (or the --map), or pass --skip-bad to keep the valid rows")
    if not conversion.questions:
        raise bad_rows_error(conversion, source, fix="no row is valid: check the --map field mapping and --type")
    search, dev = split_dev(conversion.questions, dev_fraction, seed)
    spec = {
        "name": name,
        "description": description or f"Added from {source}",
        "answer_type": answer_type,
        "prompt": {"system": default_system_prompt(description)},
        "splits": {"search": SEARCH_FILE, **({"dev": DEV_FILE} if dev else {})},
        "fields": {"question": "question", "options": "options", "answer": "answer", "context": "context", "id": "id", "explanation": "explanation"},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent))
    try:
        header = f"# Created by `evolve domains add` from {source}; questions converted to the canonical format.\n"
        (staging / SPEC_FILE).write_text(header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
        _write_jsonl(staging / SEARCH_FILE, [canonical_row(q) for q in search])
        if dev:
            _write_jsonl(staging / DEV_FILE, [canonical_row(q) for q in dev])
        if conversion.bad_rows:
            _write_jsonl(staging / BAD_ROWS_FILE, [{"source": source, row.unit: row.number, "reason": row.reason} for row in conversion.bad_rows])
        Domain.from_dir(staging, "user").load_split("search")  # the written domain must load back
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return AddResult(
        target, len(search), len(dev), conversion.bad_rows, target / BAD_ROWS_FILE if conversion.bad_rows else None
    )


def _check_target(name: str, force: bool) -> Path:
    if not NAME_PATTERN.match(name):
        raise DomainSpecError(f"invalid domain name '{name}'", where="NAME", fix="use lower-case letters, digits, '-' and '_', starting with a letter or digit")
    if name in builtin_names():
        raise DomainSpecError(f"'{name}' is a built-in domain", where="NAME", fix="choose another name, e.g. my-" + name)
    target = user_domains_root() / name
    if target.exists() and not force:
        raise DomainSpecError(f"user domain '{name}' already exists at {target}", where="NAME", fix="choose another name or pass --force to replace it")
    return target


def split_dev(questions: list[Question], fraction: float, seed: int) -> tuple[list[Question], list[Question]]:
    """(search, dev): a deterministic random `fraction` goes to dev; both keep the file's order."""
    count = len(questions)
    dev_count = round(count * fraction)
    if fraction > 0 and count >= 2:
        dev_count = min(max(dev_count, 1), count - 1)  # keep at least one question on each side
    chosen = set(random.Random(seed).sample(range(count), dev_count))
    search = [q for index, q in enumerate(questions) if index not in chosen]
    dev = [q for index, q in enumerate(questions) if index in chosen]
    return search, dev


def canonical_row(question: Question) -> dict[str, Any]:
    """The canonical seed-file object (see domains/README-commands.md)."""
    row: dict[str, Any] = {"id": question.id}
    if question.context:
        row["context"] = question.context
    row["question"] = question.question
    if question.options:
        row["options"] = question.options
    row["answer"] = question.answer
    if "explanation" in question.meta:
        row["explanation"] = question.meta["explanation"]
    return row


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _replace(staging: Path, target: Path) -> None:
    # rename is atomic within one file system; an existing domain (--force) is moved aside first.
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
