"""The typed config: YAML values, --set overrides, and strict keys."""

from pathlib import Path

import pytest

from evolve.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_meds3():
    s = Config().search
    assert (s.root_children, s.children, s.finish_threshold, s.rollout_base, s.rollout_min) == (3, 3, 0.9, 20, 5)
    assert (s.exploration, s.unvisited_score, s.completed_score, s.correct_leaves, s.max_nodes) == (2.0, 5.0, -1.0, 4, 60)


@pytest.mark.parametrize("preset", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_preset_loads_and_names_what_exists(preset):
    from domains import load_domain
    from domains.registry import builtin_names
    from evolve.infer.solve import check_modes

    cfg = load_config(preset)
    if cfg.data.domain in builtin_names():
        assert load_domain(cfg.data.domain).name == cfg.data.domain
    else:  # a user domain: the preset's header says what creates it
        header = "".join(line for line in preset.read_text().splitlines(keepends=True) if line.startswith("#"))
        assert f"`{cfg.data.domain}`" in header and ("bench/" in header or "evolve domains add" in header)
    check_modes(cfg.eval.modes, cfg.eval, has_scorer=True)  # every mode it asks for exists
    assert set(cfg.run.baseline_modes) <= {"cot", "sc"} and cfg.search.max_nodes >= 2


def test_overrides_win_and_parse_yaml_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("search:\n  max_nodes: 30\n  temperature: 0.5\n")
    cfg = load_config(path, ["search.max_nodes=12", "search.limit=4", "model.spec=openai:http://x/v1"])
    assert (cfg.search.max_nodes, cfg.search.temperature, cfg.search.limit) == (12, 0.5, 4)
    assert cfg.model.spec == "openai:http://x/v1"
    assert cfg.digest() != Config().digest() and len(cfg.digest()) == 12


def test_misspelled_key_in_file_is_an_error_with_a_suggestion(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("search:\n  max_node: 30\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.where == str(path)
    assert "search.max_node" in err.value.message and "search.max_nodes" in err.value.fix


def test_unknown_section_and_bad_values():
    with pytest.raises(ConfigError, match="unknown config key 'serch'"):
        load_config(None, ["serch.max_nodes=3"])
    with pytest.raises(ConfigError, match="search.max_nodes"):
        load_config(None, ["search.max_nodes=many"])
    with pytest.raises(ConfigError, match="not key=value"):
        load_config(None, ["search.max_nodes"])


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("search:\n  max_nodes: [1,\n")
    with pytest.raises(ConfigError) as err:
        load_config(broken)
    assert err.value.where.startswith(str(broken) + ":")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("search: {seed: 1} # caf\xe9".encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(latin)
