"""The user message a model sees for one question."""

from __future__ import annotations

from domains.answers import ANSWER_PHRASE
from domains.question import Question
from domains.spec import PromptSpec

DEFAULT_INSTRUCTIONS: dict[str, str] = {
    # No bare placeholder such as "X": a small model copies it literally ("The answer is X.").
    "mcq": f'Think step by step, then end with the sentence "{ANSWER_PHRASE} <letter>." using the letter of the correct option.',
    "yesno": f'Think step by step, then finish with "{ANSWER_PHRASE} yes", "{ANSWER_PHRASE} no" or "{ANSWER_PHRASE} maybe".',
    "numeric": f'Think step by step, then finish with "{ANSWER_PHRASE} N" where N is the final number only.',
    "text": f'Think step by step, then finish with "{ANSWER_PHRASE} ..." followed by a short answer.',
}


def format_question(question: Question, prompt: PromptSpec, answer_type: str) -> str:
    """Context, question, lettered options and the answer-format instruction, as blank-line separated blocks."""
    blocks = []
    if question.context:
        blocks.append(f"{prompt.context_label}:\n{question.context}")
    blocks.append(f"{prompt.question_label}: {question.question}")
    if question.options:
        lines = "\n".join(f"{letter}. {text}" for letter, text in question.options.items())
        blocks.append(f"{prompt.options_label}:\n{lines}")
    blocks.append(prompt.instruction or DEFAULT_INSTRUCTIONS[answer_type])
    return "\n\n".join(blocks)
