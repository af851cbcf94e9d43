"""What makes a run attributable: the config it ran under, package versions, and one manifest per round.

Every file is written whole (temporary name, then rename), so a `kill -9` leaves either the old or
the new version. A stage counts as done only once its entry is in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from evolve.config import Config, changed_keys
from evolve.errors import ConfigError

PACKAGES = ("evolve-reasoner", "torch", "transformers", "peft", "datasets", "vllm")
# Keys that change how much a run does but not what a finished stage means: raising the round count
# extends a run instead of invalidating it. The agents section plays no part in a round.
_EXTENDABLE = {("run", "rounds")}
_NOT_ROUNDS = ("agents",)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def package_versions() -> dict[str, str | None]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    found["python"] = platform.python_version()
    return found


def comparable_settings(config: Config) -> dict:
    data = config.settings()
    for section, key in _EXTENDABLE:
        data[section].pop(key)
    for section in _NOT_ROUNDS:
        data.pop(section)
    return data


def _section(annotation: Any) -> type[BaseModel] | None:
    """The config section a field holds, also where it is optional (`ColdStartConfig | None`)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def with_added_fields(recorded: dict, current: dict, section: type[BaseModel] = Config) -> dict:
    """`recorded` (a run's settings) plus the schema fields it lacks that `current` has, at their defaults.

    A field that a newer version adds defaults to the behaviour from before it, so a run recorded without
    it has not changed: its resume needs no --force. Only schema fields with a default are filled in,
    never keys inside a free dict such as `policy.grpo` or `policy.lora`.
    """
    filled = dict(recorded)
    for name, value in current.items():
        field = section.model_fields.get(name)
        if field is None:
            continue
        if name not in filled:
            default = field.get_default(call_default_factory=True)
            if default is not PydanticUndefined:
                filled[name] = to_jsonable_python(default)
        elif (sub := _section(field.annotation)) is not None and isinstance(filled[name], dict) \
                and isinstance(value, dict):
            filled[name] = with_added_fields(filled[name], value, sub)
    return filled


def _paths(settings: dict, prefix: str = "") -> set[str]:
    """Every key of nested settings, dotted."""
    paths = set()
    for key, value in settings.items():
        paths |= _paths(value, f"{prefix}{key}.") if isinstance(value, dict) and value else {prefix + key}
    return paths


def config_changes(run_dir: Path, config: Config) -> list[str]:
    """What `config` changes against the config the run in `run_dir` recorded ("key: old -> new"); [] for a
    new run. Fields added to the schema since the run started count as no change at their defaults."""
    info_path = Path(run_dir) / "run.json"
    if not info_path.exists():
        return []
    current = comparable_settings(config)
    return changed_keys(with_added_fields(read_json(info_path)["config"], current), current)


def _digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def run_digest(config: Config) -> str:
    return _digest(comparable_settings(config))


def claim_run(run_dir: Path, config: Config, *, force: bool) -> dict:
    """Create `run.json` for a new run, or check that `config` matches the one the run started with.

    A changed config is refused without `force`; with it, the change is appended to the run's
    history and every stage from here on records the new digest. Fields added to the schema since the run
    started are no change at their defaults: the record takes them, and its history lists them.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    info_path = run_dir / "run.json"
    current = comparable_settings(config)
    digest = _digest(current)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if not info_path.exists():
        info = {"config": current, "digest": digest, "created": now, "history": []}
    else:
        info = read_json(info_path)
        if info["digest"] != digest:
            filled = with_added_fields(info["config"], current)
            diff = changed_keys(filled, current)
            if diff and not force:
                shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
                raise ConfigError(
                    f"this run was started with another config ({shown})", where=str(info_path),
                    fix="use the original config, a new --out, or --force to continue under the new one",
                )
            added = sorted(_paths(filled) - _paths(info["config"]))
            info["history"].append({"from": info["digest"], "to": digest, "at": now, "changed": diff,
                                    **({"added_at_default": added} if added else {})})
            info.update(config=current, digest=digest)
    write_json(info_path, info)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False),
                                         encoding="utf-8")
    return info


class Manifest:
    """`round-N/manifest.json`: per stage its result, the config digest it ran under and its time."""

    def __init__(self, path: Path, data: dict):
        self.path = path
        self.data = data

    @classmethod
    def open(cls, round_dir: Path, round_index: int, digest: str) -> Manifest:
        round_dir.mkdir(parents=True, exist_ok=True)
        path = round_dir / "manifest.json"
        if path.exists():
            return cls(path, read_json(path))
        data = {"round": round_index, "config": digest, "versions": package_versions(), "models": {},
                "data": {}, "metrics": {}, "stages": {}, "timings": {}}
        return cls(path, data)

    def done(self, stage: str) -> bool:
        return stage in self.data["stages"]

    def ran_under(self, stage: str) -> str | None:
        """The config digest a finished stage ran under (None when it has not run)."""
        return (self.data["stages"].get(stage) or {}).get("config")

    def finish(self, stage: str, result: dict, *, digest: str, seconds: float) -> None:
        """Record a finished stage: `result` may carry `models`, `data`, `metrics` and `timings` entries."""
        for part in ("models", "data", "metrics", "timings"):
            self.data[part].update(result.get(part, {}))
        self.data["stages"][stage] = {"config": digest}
        self.data["timings"][stage] = round(seconds, 2)
        self.data["config"] = digest
        write_json(self.path, self.data)

    @property
    def complete(self) -> bool:
        return "report" in self.data["stages"]
