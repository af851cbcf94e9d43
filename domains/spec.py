"""The schema of `domain.yaml` and its loading, with errors that name the file, line and key.

A domain.yaml looks like (see domains/medqa/domain.yaml):

    name: medqa
    description: ...
    answer_type: mcq            # mcq | yesno | numeric | text
    prompt:
      system: ...               # the system prompt
      instruction: ...          # optional; default: how to state the answer for the type
      example: {question: ..., steps: [..., "The answer is ..."]}   # optional worked example (false: none)
      context_label: Context    # optional labels of the parts of the user message
      question_label: Question
      options_label: Options
    splits: {search: seeds.jsonl, dev: dev.jsonl}   # files next to domain.yaml
    fields: {question: question, options: options, answer: answer, ...}   # see FieldsSpec
    tolerance: {abs: 1.0e-6, rel: 0.0}              # numeric only
    verifier: hook.py:function                      # optional custom verifier
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domains.answers import ANSWER_TYPES, Tolerance
from domains.errors import DomainSpecError

AnswerFormat = Literal["letter", "index0", "index1", "text"]
VERIFIER_PATTERN = re.compile(r"^(?P<file>[\w./-]+\.py):(?P<function>[A-Za-z_]\w*)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExampleSpec(_Strict):
    """A worked example, shown to the model as an earlier question and its step-by-step answer. A small
    model copies what it is shown, so an example teaches the shape of an answer where a placeholder in
    an instruction ("The answer is N") would be copied as it stands. The last step states the answer."""

    question: str
    steps: list[str] = Field(min_length=1)
    options: dict[str, str] | None = None
    context: str | None = None

    @field_validator("steps")
    @classmethod
    def _ends_with_the_answer(cls, steps: list[str]) -> list[str]:
        if "the answer is" not in steps[-1].lower():
            raise ValueError('the last step must state the answer ("The answer is ...")')
        return steps


class PromptSpec(_Strict):
    """How a question is shown to the model."""

    system: str
    instruction: str | None = None
    example: ExampleSpec | Literal[False] | None = Field(
        None, description="a worked example shown before each question; unset: the answer type's default; false: none")
    context_label: str = "Context"
    question_label: str = "Question"
    options_label: str = "Options"


class FieldsSpec(_Strict):
    """Where each canonical field comes from in a raw row.

    A source is a key, a dotted path into nested objects/lists (`question.stem`, `choices.0.text`) or, for a
    CSV read without header, a column index (`0`). A source may end in transforms, each after a `|`:
    `after:MARK` (text after the last MARK, e.g. GSM8K's `answer|after:####`), `before:MARK`,
    `last_line`, `except_last_line`, `regex:PATTERN` (first group, else the whole match; no `|` inside).
    `options` is one source holding a dict (label -> text), a list of strings or a list of {label, text}
    objects, or several sources, one per option, as a list or "a,b,c,d" (letters A, B, ... in that order).
    `answer_format` (mcq): `letter` (A-J, or digit labels 1-9 mapped to A-I), `index0` (0 = A),
    `index1` (1 = A) or `text` (the option's text, matched exactly first; a looser match counts only
    when it is unique). `context`, `id` and `explanation` may be absent in a row.
    Metadata: `meta` names a field holding a dict of descriptive fields (subject, category, ...);
    `keep` lists other fields to keep as metadata. Without `keep`, every field the mapping does not use
    whose value is a number, a boolean or a string of at most 200 characters is kept.
    `csv_header`: whether a CSV's first row is a header; unset, it is detected.
    """

    question: str = "question"
    options: str | list[str] | None = "options"
    answer: str = "answer"
    answer_format: AnswerFormat = "letter"
    context: str | None = "context"
    id: str | None = "id"
    explanation: str | None = "explanation"
    meta: str | None = "meta"
    keep: list[str] | None = None
    csv_header: bool | None = None

    def columns(self, *, required: bool = False) -> list[str]:
        """The top-level field (or CSV column) names the mapping reads, e.g. "question" of question.stem;
        `required` keeps those every row must have (question, answer and, when mapped, options)."""
        from domains.mapping import split_source

        options = self.options.split(",") if isinstance(self.options, str) else (self.options or [])
        sources = [self.question, self.answer, *options]
        if not required:
            sources += [self.context, self.id, self.explanation, self.meta]
        names = (split_source(source.strip())[0].split(".")[0] for source in sources if source)
        return list(dict.fromkeys(names))


class ToleranceSpec(_Strict):
    abs: float = Field(default=1e-6, ge=0)
    rel: float = Field(default=0.0, ge=0)

    def to_tolerance(self) -> Tolerance:
        return Tolerance(abs=self.abs, rel=self.rel)


class GeneratorSpec(_Strict):
    """How a generated domain was made (`evolve domains add --generate`), so that it can be rebuilt exactly."""

    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    sizes: dict[str, int] = Field(default_factory=dict)


class DomainSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    answer_type: str = Field(description=f"one of {', '.join(ANSWER_TYPES)}")
    prompt: PromptSpec
    splits: dict[str, str]
    fields: FieldsSpec = FieldsSpec()
    tolerance: ToleranceSpec = ToleranceSpec()
    verifier: str | None = None
    generator: GeneratorSpec | None = None

    @field_validator("splits")
    @classmethod
    def _has_search_split(cls, splits: dict[str, str]) -> dict[str, str]:
        if "search" not in splits:
            raise ValueError("needs a 'search' split (the seed file), e.g. {search: seeds.jsonl, dev: dev.jsonl}")
        return splits

    @field_validator("answer_type")
    @classmethod
    def _known_answer_type(cls, answer_type: str) -> str:
        if answer_type not in ANSWER_TYPES:
            raise ValueError(f"unknown answer type '{answer_type}'; use one of: {', '.join(ANSWER_TYPES)}")
        return answer_type

    @field_validator("verifier")
    @classmethod
    def _verifier_shape(cls, verifier: str | None) -> str | None:
        if verifier is not None and not VERIFIER_PATTERN.match(verifier):
            raise ValueError("must look like 'hook.py:function' (a file next to domain.yaml and a function in it)")
        return verifier




def load_spec(path: Path) -> DomainSpec:
    """Parse and validate a domain.yaml; any problem raises DomainSpecError naming file:line and key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DomainSpecError("domain.yaml not found", where=str(path), fix="create it (see domains/medqa/domain.yaml)") from None
    except UnicodeDecodeError:
        raise DomainSpecError("not UTF-8 text", where=str(path), fix="re-save domain.yaml as UTF-8") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise DomainSpecError(f"invalid YAML: {getattr(err, 'problem', err)}", where=where, fix="fix the YAML syntax") from None
    if not isinstance(document, dict):
        raise DomainSpecError("must be a mapping of keys (name, answer_type, prompt, splits, ...)", where=str(path), fix="see domains/medqa/domain.yaml")
    try:
        return DomainSpec.model_validate(document)
    except ValidationError as err:
        raise _spec_error(err, path, text) from None


def _spec_error(err: ValidationError, path: Path, text: str) -> DomainSpecError:
    # A misspelt key also makes the real key "missing"; the unknown key is the more useful report.
    first = sorted(err.errors(), key=lambda error: error["type"] != "extra_forbidden")[0]
    loc = tuple(part for part in first["loc"] if not isinstance(part, str) or not part.startswith("function-"))
    key = ".".join(str(part) for part in loc)
    line = _line_of(text, loc)
    where = f"{path}:{line}" if line else str(path)
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return DomainSpecError(f"unknown key '{key}'", where=where, fix=f"{hint}allowed here: {', '.join(allowed)}")
    if first["type"] == "missing":
        return DomainSpecError(f"missing required key '{key}'", where=where, fix=f"add '{loc[-1]}:' (see domains/medqa/domain.yaml)")
    message = first["msg"].removeprefix("Value error, ")
    return DomainSpecError(f"key '{key}': {message}", where=where, fix=f"correct the value of '{key}'")


def _allowed_keys(parent: tuple[Any, ...]) -> list[str]:
    model: Any = DomainSpec
    for part in parent:
        annotation = model.model_fields[part].annotation
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            annotation = next(arg for arg in typing.get_args(annotation) if isinstance(arg, type) and issubclass(arg, BaseModel))
        model = annotation
    return list(model.model_fields)


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the key at `loc` in the YAML text (or of its deepest existing parent)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    if line is None and node is not None:
        line = node.start_mark.line + 1
    return line
