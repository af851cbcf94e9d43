"""Finding domains: built-in ones inside this package, user ones under `$EVOLVE_HOME/domains/<name>/`."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from domains.domain import SPEC_FILE, Domain
from domains.errors import DomainError, UnknownDomainError
from domains.spec import load_spec

BUILTIN_ROOT = Path(__file__).resolve().parent
DEFAULT_EVOLVE_HOME = "~/.evolve"


@dataclass(frozen=True)
class DomainInfo:
    """One line of `evolve domains list`; `error` is set (and the rest may be empty) when the yaml is broken."""

    name: str
    source: str  # "builtin" or "user"
    path: Path
    answer_type: str = ""
    description: str = ""
    error: str | None = None


def evolve_home() -> Path:
    return Path(os.environ.get("EVOLVE_HOME") or DEFAULT_EVOLVE_HOME).expanduser()


def user_domains_root() -> Path:
    return evolve_home() / "domains"


def _domain_dirs(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        return {}
    return {child.name: child for child in sorted(root.iterdir()) if (child / SPEC_FILE).is_file()}


def builtin_names() -> list[str]:
    return list(_domain_dirs(BUILTIN_ROOT))


def _all_dirs() -> dict[str, tuple[str, Path]]:
    # Built-ins win a name clash: `evolve domains add` refuses such names, so a clash means a hand-made folder.
    found = {name: ("user", path) for name, path in _domain_dirs(user_domains_root()).items()}
    found.update({name: ("builtin", path) for name, path in _domain_dirs(BUILTIN_ROOT).items()})
    return dict(sorted(found.items()))


def list_domains() -> list[DomainInfo]:
    """Built-in and user domains together, sorted by name; a broken yaml is listed with its error."""
    infos = []
    for name, (source, path) in _all_dirs().items():
        try:
            spec = load_spec(path / SPEC_FILE)
        except DomainError as err:
            infos.append(DomainInfo(name, source, path, error=err.one_line()))
            continue
        infos.append(DomainInfo(name, source, path, spec.answer_type, spec.description))
    return infos


def load_domain(name: str) -> Domain:
    """The built-in or user domain `name` (or the domain folder at path `name`)."""
    found = _all_dirs()
    if name in found:
        source, path = found[name]
        domain = Domain.from_dir(path, source)
    elif (Path(name).expanduser() / SPEC_FILE).is_file():
        domain = Domain.from_dir(Path(name).expanduser(), "path")
    else:
        close = difflib.get_close_matches(name, list(found), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise UnknownDomainError(
            f"unknown domain '{name}'",
            fix=f"{hint}known domains: {', '.join(found) or '(none)'}; add one with `evolve domains add`",
        )
    if domain.source != "path" and domain.name != name:
        raise UnknownDomainError(
            f"domain.yaml says name '{domain.name}' but its folder is '{name}'",
            where=str(domain.root / SPEC_FILE),
            fix=f"set name: {name} in the yaml (or rename the folder)",
        )
    return domain
