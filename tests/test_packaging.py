"""Packaging facts a user relies on: our `agents`, a light `import evolve`, the console script."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_agents_is_ours():
    # the PyPI package openai-agents also installs a top-level module named `agents`
    import agents

    assert Path(agents.__file__).resolve().parent == ROOT / "agents"
    assert agents.AGENTS_PACKAGE == "evolve-reasoner"


def test_import_evolve_stays_light():
    code = (
        "import sys, evolve, evolve.backends, evolve.search.mcts, evolve.reasoner.driver, evolve.infer.modes, evolve.cli, domains\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'vllm', 'datasets', 'peft', 'httpx') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_console_script_help_lists_the_commands():
    script = Path(sys.executable).with_name("evolve")
    cmd = [str(script)] if script.exists() else [sys.executable, "-c", "from evolve.cli import main; main()"]
    out = subprocess.run([*cmd, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("search", "domains", "tree", "demo"):
        assert command in out.stdout
