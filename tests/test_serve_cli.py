"""`evolve serve` and `evolve chat`: usage errors are one line and exit 2, before any model loads."""

from __future__ import annotations

import json

from tests.cli_helpers import run_cli


def test_binding_beyond_loopback_needs_an_api_key(capsys, monkeypatch):
    monkeypatch.delenv("EVOLVE_API_KEY", raising=False)
    code, _out, err = run_cli(["serve", "--host", "0.0.0.0", "--model", "/nonexistent"], capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert "--host" in err and "--api-key" in err


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    code, _out, err = run_cli(["serve", "--run", str(tmp_path)], capsys)
    assert code == 2 and "not a self-evolution run folder" in err


def test_a_run_without_trained_rounds_and_an_unknown_round_are_refused(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("data:\n  domain: medcalc\n")
    (tmp_path / "round-1").mkdir()
    (tmp_path / "round-1" / "manifest.json").write_text(json.dumps({"round": 1, "models": {}}))
    code, _out, err = run_cli(["serve", "--run", str(tmp_path)], capsys)
    assert code == 2 and "no round" in err
    (tmp_path / "round-1" / "manifest.json").write_text(json.dumps({"round": 1, "models": {"policy": "round-1/p"}}))
    code, _out, err = run_cli(["serve", "--run", str(tmp_path), "--round", "3"], capsys)
    assert code == 2 and "round 3" in err and "pick one of: 1" in err


def test_the_run_picks_the_last_trained_round(tmp_path):
    from evolve.chat.loading import run_models

    (tmp_path / "config.yaml").write_text("data:\n  domain: medcalc\n")
    for index, models in ((1, {"policy": "round-1/policy/adapter", "prm": "round-1/prm/prm"}), (2, {})):
        (tmp_path / f"round-{index}").mkdir()
        (tmp_path / f"round-{index}" / "manifest.json").write_text(json.dumps({"round": index, "models": models}))
    found = run_models(tmp_path)
    assert found.round == 1
    assert found.policy == str(tmp_path / "round-1/policy/adapter")
    assert found.config.data.domain == "medcalc"


def test_an_unknown_domain_fails_before_a_model_loads(capsys):
    code, _out, err = run_cli(["serve", "--domain", "no-such-domain", "--model", "/nonexistent"], capsys)
    assert code == 2 and "no-such-domain" in err


def test_url_without_terminal_is_a_usage_error(capsys):
    code, _out, err = run_cli(["chat", "--url", "http://127.0.0.1:1"], capsys)
    assert code == 2 and "--terminal" in err


def test_the_terminal_chat_says_when_the_server_is_unreachable(capsys):
    code, _out, err = run_cli(["chat", "--terminal", "--url", "http://127.0.0.1:9"], capsys)
    assert code == 2 and "cannot reach" in err
