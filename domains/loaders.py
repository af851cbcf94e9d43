"""Reading raw records from data files: JSONL, JSON, CSV/TSV, Parquet and `hf:` dataset ids.

Every reader returns `Record`s that remember where they came from (line, item or row number), so a bad
row can be named precisely later. Whole-file problems (missing, empty, not UTF-8, malformed JSON) raise
`DataFileError` here.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domains.errors import DataFileError

HF_PREFIX = "hf:"
SUPPORTED_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet")


@dataclass(frozen=True)
class Record:
    """One raw row and its position: `unit` is "line" (JSONL, CSV), "item" (JSON list) or "row"."""

    data: Any
    number: int
    unit: str = "line"

    @property
    def position(self) -> str:
        return f"{self.unit} {self.number}"


def read_records(source: str | Path, *, csv_header: bool = True) -> list[Record]:
    """All records of `source`, a file path or `hf:owner/name[:split]`.

    `csv_header=False` reads a CSV without a header: each record is then a list, addressed by column index.
    """
    text_source = str(source)
    if text_source.startswith(HF_PREFIX):
        return _read_hub(text_source[len(HF_PREFIX) :])
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataFileError(
            f"unsupported file type {suffix or '(no extension)'!r}",
            where=str(path),
            fix=f"use one of {', '.join(SUPPORTED_SUFFIXES)} or hf:owner/name[:split]",
        )
    if not path.is_file():
        raise DataFileError("file not found", where=str(path), fix="check the path (relative paths start at the current directory)")
    if suffix == ".parquet":
        records = _read_parquet(path)
    else:
        text = _read_utf8(path)
        if suffix in (".jsonl", ".ndjson"):
            records = _parse_jsonl(text, path)
        elif suffix == ".json":
            records = _parse_json(text, path)
        else:
            records = _parse_csv(text, path, delimiter="\t" if suffix == ".tsv" else ",", header=csv_header)
    if not records:
        raise DataFileError("the file holds no rows", where=str(path), fix="point at a file with at least one question")
    return records


def _read_utf8(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # -sig: a BOM from spreadsheet exports is not part of the first key
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataFileError(
            f"not UTF-8 text (byte 0x{raw[err.start]:02x} cannot be decoded)",
            where=f"{path}:{line}",
            fix=f"re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name} > fixed{path.suffix}",
        ) from None


def _parse_jsonl(text: str, path: Path) -> list[Record]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(Record(json.loads(line), number, "line"))
        except json.JSONDecodeError as err:
            raise DataFileError(
                f"malformed JSON at column {err.colno}: {err.msg}",
                where=f"{path}:{number}",
                fix="each line of a .jsonl file must be one complete JSON object",
            ) from None
    return records


def _parse_json(text: str, path: Path) -> list[Record]:
    if not text.strip():
        return []
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFileError(
            f"malformed JSON at column {err.colno}: {err.msg}",
            where=f"{path}:{err.lineno}",
            fix="fix the JSON syntax (a .json file holds one list of objects, or {\"data\": [...]})",
        ) from None
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        document = document["data"]
    if not isinstance(document, list):
        raise DataFileError(
            f"top level is a {type(document).__name__}, not a list of rows",
            where=str(path),
            fix='store a list of objects, or an object {"data": [...]}; for one object per line use .jsonl',
        )
    return [Record(item, number, "item") for number, item in enumerate(document, start=1)]


def _parse_csv(text: str, path: Path, *, delimiter: str, header: bool) -> list[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[Record] = []
    columns: list[str] | None = None
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header and columns is None:
            columns = [name.strip() for name in row]
            continue
        if columns is not None:
            if len(row) != len(columns):
                raise DataFileError(
                    f"{len(row)} columns where the header has {len(columns)}",
                    where=f"{path}:{line}",
                    fix="quote cells that contain the delimiter, or fix the row's column count",
                )
            records.append(Record(dict(zip(columns, row)), line, "line"))
        else:
            records.append(Record(list(row), line, "line"))
    return records


def _read_parquet(path: Path) -> list[Record]:
    import pyarrow.parquet as parquet  # lazy: only Parquet users pay for pyarrow's import

    try:
        rows = parquet.read_table(path).to_pylist()
    except Exception as err:  # pyarrow raises several unrelated types for corrupt files
        raise DataFileError(f"cannot read Parquet: {err}", where=str(path), fix="check the file is a valid Parquet file") from None
    return [Record(row, number, "row") for number, row in enumerate(rows, start=1)]


def _read_hub(spec: str) -> list[Record]:
    name, _, split = spec.partition(":")
    try:
        import datasets  # lazy and heavy; never reached in tests (no network)
    except ImportError:
        raise DataFileError("reading hf: ids needs the 'datasets' package", where=f"hf:{spec}", fix="pip install datasets") from None
    try:
        dataset = datasets.load_dataset(name, split=split or "train")
    except Exception as err:
        raise DataFileError(
            f"cannot load dataset: {err}", where=f"hf:{spec}", fix="check the id (hf:owner/name[:split]) and your network"
        ) from None
    return [Record(dict(row), number, "row") for number, row in enumerate(dataset, start=1)]
