"""The user message a model sees for one question, and the worked example shown before it."""

from __future__ import annotations

from domains.answers import ANSWER_PHRASE
from domains.question import Question
from domains.spec import ExampleSpec, PromptSpec

# Nothing here is a placeholder a small model could copy as if it were content ("The answer is N.",
# "<letter>", "X"): each says in words what follows the phrase. bench/prompt_sweep.py compared wordings.
DEFAULT_INSTRUCTIONS: dict[str, str] = {
    "mcq": f'Think step by step. End with one sentence that starts with "{ANSWER_PHRASE}" followed by the letter of the correct option.',
    "yesno": f'Think step by step, then finish with "{ANSWER_PHRASE} yes", "{ANSWER_PHRASE} no" or "{ANSWER_PHRASE} maybe".',
    "numeric": f'Think step by step. End with one sentence that starts with "{ANSWER_PHRASE}" followed by the final number.',
    "text": f'Think step by step. End with one sentence that starts with "{ANSWER_PHRASE}" followed by a short answer.',
}

# Without an example the embedded 135M model computes a sum and then never concludes: it wrote the
# answer sentence on 14 of 40 additions. Shown this one first, it concluded on 40 of 40 (RESULTS.md).
# For mcq, an example made it skip the reasoning and answer at once, so there is none by default.
DEFAULT_EXAMPLES: dict[str, ExampleSpec | None] = {
    "mcq": None,
    "yesno": None,
    "numeric": ExampleSpec(question="What is 4 + 3?", steps=["4 + 3 = 7.", f"{ANSWER_PHRASE} 7."]),
    "text": None,
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


def worked_example(prompt: PromptSpec, answer_type: str) -> tuple[Question, list[str]] | None:
    """The example question and its steps (step 1 on), or None when the domain shows none."""
    if prompt.example is False:
        return None
    example = prompt.example or DEFAULT_EXAMPLES[answer_type]
    if example is None:
        return None
    question = Question(id="example", question=example.question, answer="", options=example.options,
                        context=example.context)
    return question, list(example.steps)
