"""`Domain`: a loaded domain.yaml with its prompt format, answer extraction, verifier and splits."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from domains import answers
from domains.convert import Conversion, bad_rows_error, load_questions
from domains.errors import DomainSpecError
from domains.hooks import Verifier, load_verifier
from domains.prompting import format_question, worked_example
from domains.question import Question
from domains.spec import DomainSpec, load_spec

SPEC_FILE = "domain.yaml"


class Domain:
    """A task domain. Built from `<root>/domain.yaml`; see `domains.spec` for the file's keys."""

    def __init__(self, spec: DomainSpec, root: Path, source: str = "builtin"):
        self.spec = spec
        self.root = root
        self.source = source
        self.name = spec.name
        self.answer_type = spec.answer_type
        self.description = spec.description
        self.system_prompt = spec.prompt.system
        self.tolerance = spec.tolerance.to_tolerance()

    @classmethod
    def from_dir(cls, root: Path, source: str = "builtin") -> Domain:
        return cls(load_spec(root / SPEC_FILE), root, source)

    def __repr__(self) -> str:
        return f"Domain(name={self.name!r}, answer_type={self.answer_type!r}, root={str(self.root)!r})"

    @property
    def split_names(self) -> list[str]:
        return list(self.spec.splits)

    @cached_property
    def _custom_verifier(self) -> Verifier | None:
        return load_verifier(self.spec.verifier, self.root) if self.spec.verifier else None

    def load_verifier(self) -> Verifier | None:
        """The custom hook verifier (None without one); raises DomainSpecError when the hook cannot load."""
        return self._custom_verifier

    def format_question(self, q: Question) -> str:
        """The user message: context, question, lettered options and how to state the answer."""
        return format_question(q, self.spec.prompt, self.answer_type)

    def worked_example(self) -> tuple[str, list[str]] | None:
        """The worked example as the model sees it (its user message and its steps), or None."""
        found = worked_example(self.spec.prompt, self.answer_type)
        return None if found is None else (self.format_question(found[0]), found[1])

    def extract_answer(self, text: str, q: Question | None = None) -> str | None:
        """Canonical answer from the last "The answer is X"; with `q`, option text also maps to its letter."""
        return answers.extract_answer(text, self.answer_type, q.options if q is not None else None)

    def is_correct(self, predicted: str | None, q: Question) -> bool:
        """The domain's verifier: the hook when declared, else the standard one for the answer type."""
        if self._custom_verifier is not None:
            return bool(self._custom_verifier(predicted, q))
        return answers.is_correct(predicted, q, self.answer_type, self.tolerance)

    def split_source(self, split: str) -> Path:
        """The file of a named split, or `split` itself when it is a path to a file."""
        if split in self.spec.splits:
            return self.root / self.spec.splits[split]
        candidate = Path(split).expanduser()
        if candidate.is_file():
            return candidate
        raise DomainSpecError(
            f"domain '{self.name}' has no split '{split}' and no file of that name exists",
            where=str(self.root / SPEC_FILE),
            fix=f"use one of: {', '.join(self.spec.splits)}, or a path to a data file",
        )

    def convert_split(self, split: str = "search") -> Conversion:
        """Every row of a split, converted; bad rows are collected, not raised (for `evolve domains check`)."""
        return load_questions(self.split_source(split), self.spec.fields, self.answer_type, id_prefix=self.name)

    def load_split(self, split: str = "search", limit: int | None = None,
                   where: dict[str, str] | None = None) -> list[Question]:
        """Questions of "search", "dev", "test" or a data file, those matching `where` (see `select`),
        then the first `limit`; any invalid row raises DataFileError listing them."""
        conversion = self.convert_split(split)
        if conversion.bad_rows:
            raise bad_rows_error(conversion, str(self.split_source(split)), fix=f"fix those rows; `evolve domains check {self.name}` lists them all")
        questions = select(conversion.questions, where or {}, f"split '{split}' of domain '{self.name}'")
        return questions if limit is None else questions[:limit]


def metadata_fields(questions: list[Question]) -> list[str]:
    """Every metadata field some question has, in first-seen order."""
    return list(dict.fromkeys(key for q in questions for key in q.meta))


def select(questions: list[Question], where: dict[str, str], what: str = "the questions") -> list[Question]:
    """The questions whose metadata field equals the value, for every `field: value` of `where`; a value
    may list alternatives ("anatomy,physiology"). A field no question has, or a filter nothing passes,
    is an error that names what there is."""
    for name, wanted in where.items():
        fields = metadata_fields(questions)
        if name not in fields:
            known = ", ".join(fields) if fields else "none (the file kept no metadata)"
            raise DomainSpecError(f"no question of {what} has a field '{name}'", where=f"--where {name}={wanted}",
                                  fix=f"fields there: {known}")
        allowed = {part.strip() for part in str(wanted).split(",")}
        kept = [q for q in questions if str(q.meta.get(name)) in allowed]
        if not kept:
            values = sorted({str(q.meta[name]) for q in questions if name in q.meta})
            shown = ", ".join(values[:12]) + (", ..." if len(values) > 12 else "")
            raise DomainSpecError(f"no question of {what} has {name}={wanted}", where=f"--where {name}={wanted}",
                                  fix=f"values of '{name}': {shown}")
        questions = kept
    return questions
