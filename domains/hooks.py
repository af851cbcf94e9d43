"""Loading a custom verifier from a Python file next to domain.yaml (`verifier: hook.py:function`)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from domains.errors import DomainSpecError
from domains.question import Question
from domains.spec import VERIFIER_PATTERN

Verifier = Callable[[str | None, Question], bool]


def load_verifier(reference: str, root: Path) -> Verifier:
    """The function named by "file.py:function", resolved inside the domain folder `root`."""
    match = VERIFIER_PATTERN.match(reference)
    assert match, "DomainSpec validation guarantees the shape"
    path = (root / match["file"]).resolve()
    where = f"{root / 'domain.yaml'}: verifier"
    if not path.is_relative_to(root.resolve()):
        raise DomainSpecError(f"'{match['file']}' is outside the domain folder", where=where, fix="put the hook file next to domain.yaml")
    if not path.is_file():
        raise DomainSpecError(f"hook file {path} not found", where=where, fix=f"create {match['file']} next to domain.yaml or fix the name")
    spec = importlib.util.spec_from_file_location(f"domain_hook_{root.name.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise DomainSpecError(f"importing {path.name} failed: {type(err).__name__}: {err}", where=where, fix="fix the hook file") from None
    function = getattr(module, match["function"], None)
    if not callable(function):
        raise DomainSpecError(
            f"{path.name} has no function '{match['function']}'",
            where=where,
            fix="define def NAME(predicted: str | None, question: Question) -> bool in the hook file",
        )
    return function
