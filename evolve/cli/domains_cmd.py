"""`evolve domains list | show | check | add`: inspect, validate and create task domains."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Console

from domains import Domain, Question, list_domains, load_domain
from domains.answers import ANSWER_TYPES
from domains.convert import MAX_LISTED_BAD_ROWS
from domains.errors import DomainError, DomainSpecError

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


def _console() -> Console:
    # Built per call so output goes to whatever stdout is current (CliRunner swaps it); no wrapping of long lines.
    return Console(highlight=False, soft_wrap=True)


@app.command("list")
def list_cmd() -> None:
    """List built-in and user domains: name, source, answer type, description, folder."""
    console = _console()
    infos = list_domains()
    width = max([len(info.name) for info in infos] + [4])
    console.print(f"{'name':<{width}}  {'source':<7}  {'type':<7}  description", markup=False)
    for info in infos:
        if info.error:
            console.print(f"{info.name:<{width}}  {info.source:<7}  {'BROKEN':<7}  {info.error}", markup=False)
        else:
            console.print(f"{info.name:<{width}}  {info.source:<7}  {info.answer_type:<7}  {info.description} [{info.path}]", markup=False)


@app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="Domain name (see `evolve domains list`).")],
    examples: Annotated[int, typer.Option(help="How many questions to show as the model sees them.")] = 2,
) -> None:
    """Print a domain's yaml summary and example questions formatted as the model sees them."""
    domain = load_domain(name)
    console = _console()
    spec = domain.spec
    console.print(f"[bold]{domain.name}[/bold] ({domain.source}) {domain.root}")
    console.print(f"answer type: {domain.answer_type}")
    console.print(f"description: {domain.description}")
    console.print("splits: " + ", ".join(f"{split}={file}" for split, file in spec.splits.items()))
    # options and answer_format only mean something for mcq; csv_header only for header-less CSV files.
    kind = ANSWER_TYPES[domain.answer_type]
    skipped = {"csv_header"} | (set() if kind.options else {"options", "answer_format"})
    fields = spec.fields.model_dump(exclude_none=True, exclude=skipped)
    console.print("fields: " + ", ".join(f"{key}={value}" for key, value in fields.items()))
    if kind.tolerance:
        console.print(f"tolerance: abs={domain.tolerance.abs:g} rel={domain.tolerance.rel:g}")
    if spec.verifier:
        console.print(f"verifier: {spec.verifier}")
    console.print("\n[bold]system prompt[/bold]", markup=True)
    console.print(domain.system_prompt, markup=False)
    for index, question in enumerate(domain.load_split("search", limit=examples), start=1):
        console.print(f"\n[bold]example {index}[/bold] ({question.id}, answer {question.answer})")
        console.print(domain.format_question(question), markup=False)


@app.command("check")
def check_cmd(name: Annotated[str, typer.Argument(help="Domain name (see `evolve domains list`).")]) -> None:
    """Load every split, validate every row, print counts and answer distributions; exit 1 if any row is bad."""
    domain = load_domain(name)
    console = _console()
    problems = 0
    if domain.spec.verifier:
        domain.load_verifier()  # surfaces a missing file or function before any row is checked
    for split in domain.split_names:
        try:
            conversion = domain.convert_split(split)
        except DomainError as err:
            console.print(f"{split}: [red]unreadable[/red] {err.one_line()}", markup=True)
            problems += 1
            continue
        duplicates = f", {len(conversion.duplicates)} exact duplicates" if conversion.duplicates else ""
        console.print(f"{split}: {len(conversion.questions)} questions, {len(conversion.bad_rows)} bad rows{duplicates}"
                      f" ({domain.split_source(split)})")
        console.print(f"  answers: {_distribution(domain, conversion.questions)}", markup=False)
        _print_bad_rows(console, conversion.bad_rows)
        problems += len(conversion.bad_rows)
    if problems:
        typer.secho(f"error: domain '{domain.name}' has {problems} problem(s)", err=True, fg="red")
        # SystemExit, not typer.Exit: evolve.cli.main runs click with standalone_mode=False, which turns
        # typer.Exit into a return value that would be dropped.
        raise SystemExit(1)
    console.print(f"ok: domain '{domain.name}' is valid")


def _print_bad_rows(console: Console, rows: list) -> None:
    for row in rows[:MAX_LISTED_BAD_ROWS]:
        console.print(f"  {row.position}: {row.reason}", markup=False)
    if len(rows) > MAX_LISTED_BAD_ROWS:
        console.print(f"  ... and {len(rows) - MAX_LISTED_BAD_ROWS} more")


def _distribution(domain: Domain, questions: list[Question]) -> str:
    counts = Counter(q.answer for q in questions)
    if ANSWER_TYPES[domain.answer_type].closed:
        items = sorted(counts.items())
    else:  # numbers and free text rarely repeat: the most common few say enough
        items = counts.most_common(5)
    shown = " ".join(f"{answer}:{count}" for answer, count in items)
    return shown + (f" (+{len(counts) - len(items)} other values)" if len(counts) > len(items) else "")


@app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="New domain name (lower case, digits, - and _; at most 64 characters).")],
    source: Annotated[str | None, typer.Option("--from", help="Data file (.jsonl .json .csv .tsv .parquet) or "
                                               "hf:owner/name[:split].")] = None,
    answer_type: Annotated[str | None, typer.Option("--type", help=f"Answer type: {', '.join(ANSWER_TYPES)}.")] = None,
    generate: Annotated[str | None, typer.Option("--generate", help="Draw the questions from a generator instead of "
                                                 "a file: medcalc, arith or rg:<dataset> (reasoning-gym).")] = None,
    size: Annotated[int, typer.Option("--size", min=1, help="With --generate: search questions.")] = 300,
    dev_size: Annotated[int, typer.Option("--dev-size", min=0, help="With --generate: dev questions.")] = 100,
    test_size: Annotated[int, typer.Option("--test-size", min=0, help="With --generate: test questions.")] = 200,
    cold_size: Annotated[int, typer.Option("--cold-size", min=0, help="With --generate: cold-start questions "
                                           "(gold solutions for policy.cold_start).")] = 200,
    params: Annotated[list[str] | None, typer.Option("--set", help="With --generate: a generator parameter, "
                                                     "KEY=VALUE (repeatable; e.g. --set level=2).")] = None,
    mappings: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="KEY=SOURCE for the yaml's fields section, repeatable: question, options, answer, answer_format "
            "(letter|index0|index1|text), context, id, explanation, meta. SOURCE is a dotted path "
            "(question.stem), a column index, or 'a,b,c,d' for option columns, optionally with |after:MARK, "
            "|before:MARK, |last_line, |except_last_line, |regex:PATTERN.",
        ),
    ] = None,
    keep: Annotated[str | None, typer.Option("--keep", help="Comma list of fields to keep as metadata (default: every "
                                             "unmapped field holding a number or a short text); 'none' keeps none.")] = None,
    split_files: Annotated[list[str] | None, typer.Option("--split-file", help="SPLIT=PATH: a file of the same format "
                                                          "holding a declared split (search, dev or test), repeatable.")] = None,
    split_field: Annotated[str | None, typer.Option("--split-field", help="A field whose value names each row's split "
                                                    "(train, dev/validation, test).")] = None,
    header: Annotated[bool | None, typer.Option("--header/--no-header", help="Whether a CSV's first row is a header "
                                                "(default: detected).")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Keep valid rows; write bad_rows.jsonl next to the domain.")] = False,
    max_bad: Annotated[str, typer.Option("--max-bad", help="With --skip-bad, refuse the file when more rows than this "
                                         "are bad: a share (5%) or a count.")] = "5%",
    description: Annotated[str, typer.Option(help="One-line description for people (the model never sees it).")] = "",
    system_prompt: Annotated[str | None, typer.Option("--system-prompt", help="The system prompt the model sees "
                                                      "(default: a generic careful-expert prompt).")] = None,
    dev_fraction: Annotated[float, typer.Option(help="Share of rows held out as the dev split when none is declared, "
                                                "chosen by a hash of each question's content.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Salt of the dev split's content hash.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing user domain of this name.")] = False,
) -> None:
    """Create a user domain in $EVOLVE_HOME/domains/NAME from a data file or a generator; an invalid file
    writes nothing."""
    from domains.builder import add_domain, add_generated_domain, parse_mappings

    if generate is not None:
        if source is not None:
            raise DomainSpecError("--generate and --from both given", where="--generate", fix="pass one of them")
        given = {}
        for item in params or []:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise DomainSpecError(f"--set '{item}' is not KEY=VALUE", where="--set", fix="write e.g. --set level=2")
            given[key.strip()] = value.strip()
        result = add_generated_domain(name, generate, params=given, seed=seed, description=description, force=force,
                                      sizes={"search": size, "dev": dev_size, "test": test_size, "cold": cold_size})
        counts = ", ".join(f"{count} {split}" for split, count in result.counts.items())
        _console().print(f"added domain '{name}' at {result.path}: {counts} questions")
        return
    if source is None or answer_type is None:
        raise DomainSpecError("a domain needs --from FILE and --type, or --generate KIND", where="--from",
                              fix="e.g. --from data.jsonl --type mcq, or --generate medcalc")
    if answer_type not in ANSWER_TYPES:
        raise DomainSpecError(f"unknown answer type '{answer_type}'", where="--type", fix=f"use one of: {', '.join(ANSWER_TYPES)}")
    items = list(mappings or [])
    if keep is not None:
        items.append(f"keep={keep}")
    if header is not None:
        items.append(f"csv_header={header}")
    fields = parse_mappings(items)
    declared = {}
    for item in split_files or []:
        split, sep, path = item.partition("=")
        if not sep or not path.strip():
            raise DomainSpecError(f"--split-file '{item}' is not SPLIT=PATH", where="--split-file",
                                  fix="write e.g. --split-file test=data/test.jsonl")
        declared[split.strip()] = path.strip()
    result = add_domain(
        name, source, answer_type, fields, description=description, system_prompt=system_prompt,
        skip_bad=skip_bad, max_bad=max_bad, dev_fraction=dev_fraction, seed=seed, force=force,
        split_files=declared, split_field=split_field,
    )
    console = _console()
    counts = ", ".join(f"{count} {split}" for split, count in result.counts.items())
    console.print(f"added domain '{name}' at {result.path}: {counts} questions")
    if result.duplicates or result.cross_duplicates:
        console.print(f"dropped {result.duplicates} exact duplicate rows and {result.cross_duplicates} questions that "
                      "a more held-out split also holds")
    if result.bad_rows_path is not None:
        console.print(f"skipped {len(result.bad_rows)} bad rows; all of them, with reasons, in {result.bad_rows_path}")
        _print_bad_rows(console, result.bad_rows)
