"""The user message a model sees for one question, and the worked example shown before it."""

from __future__ import annotations

from domains.answers import ANSWER_TYPES
from domains.question import Question
from domains.spec import ExampleSpec, PromptSpec


def format_question(question: Question, prompt: PromptSpec, answer_type: str) -> str:
    """Context, question, lettered options and the answer-format instruction, as blank-line separated blocks."""
    blocks = []
    if question.context:
        blocks.append(f"{prompt.context_label}:\n{question.context}")
    blocks.append(f"{prompt.question_label}: {question.question}")
    if question.options:
        lines = "\n".join(f"{letter}. {text}" for letter, text in question.options.items())
        blocks.append(f"{prompt.options_label}:\n{lines}")
    blocks.append(prompt.instruction or ANSWER_TYPES[answer_type].instruction)
    return "\n\n".join(blocks)


def worked_example(prompt: PromptSpec, answer_type: str) -> tuple[Question, list[str]] | None:
    """The example question and its steps (step 1 on), or None when the domain shows none: the
    domain's own `prompt.example`, else the answer type's default, and none for `example: false`."""
    if prompt.example is False:
        return None
    default = ANSWER_TYPES[answer_type].example
    example = prompt.example or (ExampleSpec(**default) if default else None)
    if example is None:
        return None
    question = Question(id="example", question=example.question, answer="", options=example.options,
                        context=example.context)
    return question, list(example.steps)
