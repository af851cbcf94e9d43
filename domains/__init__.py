"""Task domains declared as data: `<name>/domain.yaml` plus seed files, loaded into canonical `Question`s.

Public API:
    load_domain(name) -> Domain            built-in, user ($EVOLVE_HOME/domains) or a folder path
    list_domains() -> list[DomainInfo]     built-in and user together
    Domain.format_question / extract_answer / is_correct / load_split
    Question                               the canonical question
    answers.ANSWER_PHRASE                  "The answer is"
This package never imports `evolve`.
"""

from __future__ import annotations

from domains.answers import ANSWER_PHRASE, ANSWER_TYPES, Tolerance
from domains.domain import Domain
from domains.errors import DataFileError, DomainError, DomainSpecError, UnknownDomainError
from domains.question import Question
from domains.registry import DomainInfo, evolve_home, list_domains, load_domain, user_domains_root

__all__ = [
    "ANSWER_PHRASE",
    "ANSWER_TYPES",
    "DataFileError",
    "Domain",
    "DomainError",
    "DomainInfo",
    "DomainSpecError",
    "Question",
    "Tolerance",
    "UnknownDomainError",
    "evolve_home",
    "list_domains",
    "load_domain",
    "user_domains_root",
]
