"""Creating a user domain from a data file (`evolve domains add`): validate every row, then write atomically."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from domains.answers import ANSWER_PHRASE
from domains.convert import BadRow, Conversion, bad_rows_error, load_questions
from domains.domain import SPEC_FILE, Domain
from domains.errors import DataFileError, DomainSpecError
from domains.question import Question
from domains.registry import builtin_names, user_domains_root
from domains.spec import FieldsSpec
from domains.splits import SPLITS, assign, check_unique_ids, split_of_value

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_NAME_LENGTH = 64  # well under every file system's 255-byte limit, with room for ".name.xxxx.tmp"
SEARCH_FILE, DEV_FILE, TEST_FILE, BAD_ROWS_FILE = "seeds.jsonl", "dev.jsonl", "test.jsonl", "bad_rows.jsonl"
SPLIT_FILES = {"search": SEARCH_FILE, "dev": DEV_FILE, "test": TEST_FILE}
DEFAULT_MAX_BAD = "5%"
DEFAULT_SYSTEM_PROMPT = (
    "You are a careful domain expert. Reason step by step, then state your final answer the way the question asks."
)


@dataclass(frozen=True)
class AddResult:
    path: Path
    counts: dict[str, int]  # questions per split written
    bad_rows: list[BadRow]
    bad_rows_path: Path | None
    duplicates: int = 0  # exact duplicates dropped within a file
    cross_duplicates: int = 0  # dropped from a split because a more held-out split holds them


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
        elif key == "keep":
            values[key] = [] if source.lower() == "none" else [part.strip() for part in source.split(",") if part.strip()]
        elif key in ("context", "id", "explanation", "options", "meta") and source.lower() == "none":
            values[key] = None
        else:
            values[key] = source
    try:
        return FieldsSpec(**values)
    except ValidationError as err:
        first = err.errors()[0]
        raise DomainSpecError(f"--map {first['loc'][0]}: {first['msg']}", where="--map", fix="see `evolve domains add --help`") from None


def parse_max_bad(text: str) -> tuple[float, bool]:
    """"5%" -> (0.05, True), "12" -> (12, False): a share of the rows or a count."""
    value = str(text).strip()
    try:
        if value.endswith("%"):
            share = float(value[:-1]) / 100
            if 0 <= share <= 1:
                return share, True
        else:
            count = int(value)
            if count >= 0:
                return float(count), False
    except ValueError:
        pass
    raise DomainSpecError(f"--max-bad {text!r} is neither a share like 5% nor a count like 20", where="--max-bad",
                          fix="write e.g. --max-bad 5% or --max-bad 20")


def add_domain(
    name: str,
    source: str,
    answer_type: str,
    fields: FieldsSpec,
    *,
    description: str = "",
    system_prompt: str | None = None,
    skip_bad: bool = False,
    max_bad: str = DEFAULT_MAX_BAD,
    dev_fraction: float = 0.1,
    seed: int = 0,
    force: bool = False,
    split_files: dict[str, str] | None = None,
    split_field: str | None = None,
) -> AddResult:
    """Convert `source` into `$EVOLVE_HOME/domains/<name>/` (domain.yaml, seeds.jsonl, dev.jsonl, test.jsonl).

    Writes nothing unless every row is valid, or `skip_bad` is set and at most `max_bad` rows are bad
    (they then go to bad_rows.jsonl). `split_files` (split -> file, read with the same mapping) and
    `split_field` declare splits; `domains.splits` decides the rest. `description` is for people;
    the model sees `system_prompt` (a generic one by default).
    """
    target = _check_target(name, force)
    if not 0 <= dev_fraction < 1:
        raise DomainSpecError(f"--dev-fraction {dev_fraction} is outside [0, 1)", where="--dev-fraction", fix="use e.g. 0.1")
    limit, is_share = parse_max_bad(max_bad)
    split_files = dict(split_files or {})
    for split in split_files:
        if split not in SPLITS:
            raise DomainSpecError(f"--split-file names the split '{split}'", where="--split-file",
                                  fix=f"use {', '.join(SPLITS)}, e.g. --split-file test=PATH")
    if split_field and fields.keep is not None and split_field not in fields.keep:
        fields = fields.model_copy(update={"keep": [*fields.keep, split_field]})
    conversions: dict[str | None, Conversion] = {None: load_questions(source, fields, answer_type, id_prefix=name)}
    for split, path in split_files.items():
        conversions[split] = _load_split_file(path, split, fields, answer_type, name)
    _check_bad_rows(list(conversions.values()), source, skip_bad, limit, is_share)

    declared = {split: list(conversions[split].questions) for split in split_files}
    undeclared = conversions[None].questions
    if split_field:
        undeclared = _split_by_field(undeclared, split_field, declared)
    assignment = assign(declared, undeclared, dev_fraction=dev_fraction, seed=seed)
    splits = {split: questions for split, questions in assignment.splits.items() if questions}
    if "search" not in splits:
        raise DomainSpecError("no question is left for the search split", where=source,
                              fix="every row went to dev or test: lower --dev-fraction or declare fewer splits")
    check_unique_ids(splits)
    spec = {
        "name": name,
        "description": description or f"Added from {_file_name(source)}",
        "answer_type": answer_type,
        "prompt": {"system": system_prompt or DEFAULT_SYSTEM_PROMPT},
        "splits": {split: SPLIT_FILES[split] for split in SPLITS if split in splits},
        "fields": {"question": "question", "options": "options", "answer": "answer", "context": "context", "id": "id",
                   "explanation": "explanation", "meta": "meta"},
    }
    bad = [(split, row) for split, conversion in conversions.items() for row in conversion.bad_rows]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent))
    try:
        _open_permissions(staging)
        header = (f"# Created by `evolve domains add` from {source}; questions converted to the canonical format.\n"
                  f"# Splits: {_split_note(split_files, split_field, dev_fraction, seed)}.\n")
        (staging / SPEC_FILE).write_text(header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
        for split, questions in splits.items():
            _write_jsonl(staging / SPLIT_FILES[split], [canonical_row(q) for q in questions])
        if bad:
            _write_jsonl(staging / BAD_ROWS_FILE, [
                {"source": split_files[split] if split else source, row.unit: row.number, "reason": row.reason,
                 "kind": row.kind} for split, row in bad])
        Domain.from_dir(staging, "user").load_split("search")  # the written domain must load back
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return AddResult(target, {split: len(questions) for split, questions in splits.items()}, [row for _, row in bad],
                     target / BAD_ROWS_FILE if bad else None,
                     duplicates=sum(len(c.duplicates) for c in conversions.values()),
                     cross_duplicates=assignment.cross_duplicates)


GENERATED_TOLERANCE = {"abs": 0.011, "rel": 0.01}  # answers are rounded to 2 decimals; 1% covers rounding order
DEFAULT_SIZES = {"search": 300, "dev": 100, "test": 200, "cold": 200}


def add_generated_domain(name: str, kind: str, *, params: dict[str, str] | None = None, seed: int = 0,
                         sizes: dict[str, int] | None = None, description: str = "", force: bool = False) -> AddResult:
    """A domain drawn from a generator (see `domains.generators`): search, dev, test and cold-start
    questions from disjoint streams, a worked example of the same kind, and the yaml that rebuilds it."""
    from domains.generators import GENERATORS, RG_PREFIX, generate, gold_steps, resolve_params

    target = _check_target(name, force)
    values = resolve_params(kind, params or {})
    wanted = {**DEFAULT_SIZES, **(sizes or {})}
    for split, size in wanted.items():
        if size < 0 or (split == "search" and size < 1):
            raise DomainSpecError(f"--{split}-size {size} is not a size", where=f"--{split}-size", fix="use e.g. 300")
    drawn = generate(name, kind, values, seed, {"example": 1, **wanted})
    example = drawn.pop("example")[0]
    splits = {split: questions for split, questions in drawn.items() if questions}
    system = GENERATORS[kind].system if not kind.startswith(RG_PREFIX) else GENERATORS["arith"].system
    # a task without known intermediates (some reasoning-gym ones) gets an answer-only worked example
    worked = gold_steps(example.meta["truth"]) if example.meta["truth"] else [f"{ANSWER_PHRASE} {example.answer}."]
    spec = {
        "name": name,
        "description": description or f"Generated by {kind} ({', '.join(f'{k}={v}' for k, v in values.items())})",
        "answer_type": "numeric",
        "prompt": {"system": system, "example": {"question": example.question, "steps": worked}},
        "splits": {split: GENERATED_FILES.get(split, f"{split}.jsonl") for split in splits},
        "fields": {"question": "question", "answer": "answer", "id": "id", "meta": "meta"},
        "tolerance": GENERATED_TOLERANCE,
        "generator": {"kind": kind, "params": values, "seed": seed, "sizes": wanted},
    }
    return _write_domain(target, name, spec, splits, header=f"# Generated by `evolve domains add --generate {kind}`; "
                         "rebuild with the same kind, params, seed and sizes.\n")


GENERATED_FILES = {"search": SEARCH_FILE, "dev": DEV_FILE, "test": TEST_FILE, "cold": "cold.jsonl"}


def _write_domain(target: Path, name: str, spec: dict, splits: dict[str, list[Question]], header: str) -> AddResult:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent))
    try:
        _open_permissions(staging)
        (staging / SPEC_FILE).write_text(header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100),
                                         encoding="utf-8")
        for split, questions in splits.items():
            _write_jsonl(staging / spec["splits"][split], [canonical_row(q) for q in questions])
        Domain.from_dir(staging, "user").load_split("search")  # the written domain must load back
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return AddResult(target, {split: len(questions) for split, questions in splits.items()}, [], None)


def _check_target(name: str, force: bool) -> Path:
    if len(name) > MAX_NAME_LENGTH:
        raise DomainSpecError(f"the domain name is {len(name)} characters long", where="NAME",
                              fix=f"use at most {MAX_NAME_LENGTH} characters")
    if not NAME_PATTERN.match(name):
        raise DomainSpecError(f"invalid domain name '{name}'", where="NAME", fix="use lower-case letters, digits, '-' and '_', starting with a letter or digit")
    if name in builtin_names():
        raise DomainSpecError(f"'{name}' is a built-in domain", where="NAME", fix="choose another name, e.g. my-" + name)
    target = user_domains_root() / name
    if target.exists() and not force:
        raise DomainSpecError(f"user domain '{name}' already exists at {target}", where="NAME", fix="choose another name or pass --force to replace it")
    return target


def _file_name(source: str) -> str:
    return source if source.startswith("hf:") else Path(source).name


def _open_permissions(folder: Path) -> None:
    # mkdtemp makes the folder private (0700); a domain folder is as readable as any file the user writes.
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)


def _split_note(split_files: dict[str, str], split_field: str | None, dev_fraction: float, seed: int) -> str:
    parts = [f"{split} from {_file_name(path)}" for split, path in split_files.items()]
    if split_field:
        parts.append(f"by the field '{split_field}'")
    if "dev" not in split_files and dev_fraction > 0:
        parts.append(f"dev (unless declared) holds the rows whose content hash falls below {dev_fraction} (seed {seed})")
    return "; ".join(parts) or "every row in search"


def _load_split_file(path: str, split: str, fields: FieldsSpec, answer_type: str, name: str) -> Conversion:
    conversion = load_questions(path, fields, answer_type, id_prefix=f"{name}-{split}")
    missing = [row for row in conversion.bad_rows if row.kind == "missing"]
    if conversion.total and len(missing) == conversion.total:
        # Every row lacks a mapped field: the file is laid out unlike the main one, not a file of bad rows.
        raise DomainSpecError(f"the {split} file is laid out unlike --from: {missing[0].position}: {missing[0].reason}",
                              where=path, fix="give a file in the same format as --from (one --map applies to both)")
    return conversion


def _check_bad_rows(conversions: list[Conversion], source: str, skip_bad: bool, limit: float, is_share: bool) -> None:
    """Refuse when any row is bad (without `skip_bad`), when none is good, or when more than `limit` are."""
    merged = Conversion([q for c in conversions for q in c.questions], [r for c in conversions for r in c.bad_rows],
                        sum(c.total for c in conversions))
    if not merged.bad_rows:
        return
    example, count, fix = merged.most_common_problem()
    if not skip_bad:
        raise bad_rows_error(merged, source, fix=f"{fix}; or pass --skip-bad to keep the valid rows")
    if not merged.questions:
        raise DataFileError(f"none of the {merged.total} rows is valid; most common problem ({count} rows): {example}",
                            where=source, fix=fix)
    if len(merged.bad_rows) > (limit * merged.total if is_share else limit):
        shown = f"{100 * limit:g}%" if is_share else f"{int(limit)}"
        raise DataFileError(f"{len(merged.bad_rows)} of {merged.total} rows are bad, more than --max-bad {shown}; most "
                            f"common problem ({count} rows): {example}", where=source, fix=f"{fix}; or raise --max-bad")


def _split_by_field(questions: list[Question], field: str, declared: dict[str, list[Question]]) -> list[Question]:
    """Moves every question to the split its `field` names; returns the ones left for search and dev."""
    if not any(field in q.meta for q in questions):
        raise DomainSpecError(f"no row has the split field '{field}'", where="--split-field",
                              fix="name a field of the rows that says train, dev or test")
    rest = []
    for question in questions:
        value = question.meta.get(field)
        question = dataclasses.replace(question, meta={k: v for k, v in question.meta.items() if k != field})
        split = "search" if value is None else split_of_value(value, field)
        if split == "search":
            rest.append(question)
        else:
            declared.setdefault(split, []).append(question)
    return rest


def canonical_row(question: Question) -> dict[str, Any]:
    """The canonical seed-file object (see domains/README-commands.md)."""
    row: dict[str, Any] = {"id": question.id}
    if question.context:
        row["context"] = question.context
    row["question"] = question.question
    if question.options:
        row["options"] = question.options
    row["answer"] = question.answer
    if question.explanation:
        row["explanation"] = question.explanation
    if question.meta:
        row["meta"] = question.meta
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
