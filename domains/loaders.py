"""Reading raw records from data files: JSONL, JSON, CSV/TSV, Parquet and `hf:` dataset ids.

Every reader returns `Record`s that remember where they came from (line, item or row number), so a bad
row can be named precisely later. Whole-file problems (missing, empty, not UTF-8, a malformed .json
document, a CSV header without the mapped columns) raise `DataFileError` here; a malformed line of a
.jsonl file is a `Record` with an `error`, so that it is reported (or skipped) like any other bad row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
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
    error: str | None = None  # why the raw text is not a row (a malformed JSON line); `data` is then None

    @property
    def position(self) -> str:
        return f"{self.unit} {self.number}"


def read_records(source: str | Path, *, csv_header: bool | None = None, columns: Sequence[str] = ()) -> list[Record]:
    """All records of `source`, a file path or `hf:owner/name[:split]`.

    A CSV without a header gives lists, addressed by column index. `csv_header` None detects the header
    (`has_header`); `columns` are the column names the field mapping uses, which decide the detection
    when the first row holds them and must all be in the header of a file that has one.
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
            records = _parse_csv(text, path, delimiter="\t" if suffix == ".tsv" else ",", header=csv_header,
                                 columns=columns)
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
    # Lines end at "\n" only: str.splitlines would also split at U+2028 and friends, which JSON strings
    # may hold unescaped (PubMedQA and GSM8K do), and cut a row in two.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            records.append(Record(json.loads(line), number, "line"))
        except json.JSONDecodeError as err:
            records.append(Record(None, number, "line", error=f"malformed JSON at column {err.colno}: {err.msg}"))
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


def _parse_csv(text: str, path: Path, *, delimiter: str, header: bool | None, columns: Sequence[str]) -> list[Record]:
    rows = [(line, row) for line, row in _csv_rows(text, delimiter) if any(cell.strip() for cell in row)]
    if not rows:
        return []
    first = [cell.strip() for cell in rows[0][1]]
    named = [column for column in columns if not column.isdigit()]
    if header is None:
        header = has_header(text, first, columns)
    if not header:
        if named:
            raise DataFileError(
                f"the first row is data, not a header, so columns {_names(named)} cannot be found",
                where=str(path),
                fix="map columns by index (e.g. --map question=0 --map options=1,2,3,4 --map answer=5), "
                    "or pass --header if the first row is a header",
            )
        return [Record(list(row), line, "line") for line, row in rows]
    missing = [column for column in named if column not in first]
    if missing:
        raise DataFileError(
            f"the header has no column {_names(missing)} (it has {_names(first)})",
            where=str(path),
            fix="map the header's column names with --map, or pass --no-header and map columns by index "
                "(--map question=0) if the first row is data",
        )
    records = []
    for line, row in rows[1:]:
        if len(row) != len(first):
            raise DataFileError(
                f"{len(row)} columns where the header has {len(first)}",
                where=f"{path}:{line}",
                fix="quote cells that contain the delimiter, or fix the row's column count",
            )
        records.append(Record(dict(zip(first, row)), line, "line"))
    return records


def _csv_rows(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [(reader.line_num, row) for row in reader]


def has_header(text: str, first: Sequence[str], columns: Sequence[str]) -> bool:
    """Whether a CSV's first row is a header. It is when it holds a column the mapping names; it is not
    when it holds an empty or repeated cell or a number (headers name their columns, once each).
    Otherwise `csv.Sniffer` decides when the mapping gives column names none of which is there, or
    only column indexes; a file read without any mapping is taken to have a header."""
    if any(column in first for column in columns if not column.isdigit()):
        return True
    if not first or any(not cell for cell in first) or len(set(first)) != len(first):
        return False
    if any(_is_number(cell) for cell in first):
        return False
    if not columns:
        return True
    try:
        return csv.Sniffer().has_header(text[:20_000])
    except csv.Error:
        return True


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _names(names: Sequence[str], limit: int = 8, width: int = 30) -> str:
    """A short list of column names for a one-line error: the first `limit`, each cut at `width`."""
    shown = [repr(n if len(n) <= width else n[: width - 3] + "...") for n in list(names)[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown) + more


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
