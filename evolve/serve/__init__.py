"""`evolve serve` and `evolve chat`: an OpenAI-compatible HTTP API (`app`) and a web chat mounted on it
(`web`), on the models of `evolve.chat.models` (the terminal chat is `evolve.cli.chat_repl`). FastAPI, uvicorn,
sse-starlette and Gradio are the `serve` extra and are imported only here."""

SERVE_EXTRA = "pip install 'evolve-reasoner[serve]'"


def require_serve_extra() -> None:
    """A one-line error naming the install command when the serve extra is missing."""
    from importlib.util import find_spec

    from evolve.errors import MissingExtraError

    missing = [name for name in ("fastapi", "uvicorn", "sse_starlette", "gradio") if find_spec(name) is None]
    if missing:
        raise MissingExtraError(f"the chat server needs {', '.join(missing)}", where="evolve serve",
                                fix=f"install the serve extra: {SERVE_EXTRA}")
