"""`evolve prm eval`: a trained PRM and the search's step values against the true step labels."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from evolve.cli.common import CONFIG, DOMAIN, MODEL, POLICY, SEED, SET, THREADS, config_from

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


@app.command("eval")
def eval_command(
    prm: Path | None = typer.Option(None, "--prm", help="a trained PRM folder (without one: --samples 0 --trees, "
                                                        "the tree's Q values only)"),
    domain: str | None = DOMAIN,
    split: str = typer.Option("test", help="the questions to sample solutions for"),
    dev_split: str | None = typer.Option("dev", help="where the first-error threshold is chosen (none: 0.5)"),
    limit: int | None = typer.Option(None, min=1, help="only the first N questions of each split"),
    samples: int = typer.Option(4, min=0, help="sampled solutions per question (0: check only the --trees file)"),
    trees: Path | None = typer.Option(None, help="a tree file of this domain: also check its Q values and the MC labels"),
    no_truth: bool = typer.Option(False, "--no-truth", help="a domain without step truth: only the last-step and MC checks"),
    out: Path = typer.Option(Path("runs/prm-eval"), help="folder for prm_eval.json, .md and .png"),
    model: str | None = MODEL,
    policy: Path | None = POLICY,
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    threads: int | None = THREADS,
    seed: int | None = SEED,
) -> None:
    """Step AUC against the truth, first-error F1, last-step AUC, and (with --trees) the tree's Q values."""
    from domains import load_domain
    from evolve.api import Reasoner, build_scorer
    from evolve.cli.render import progress_sink
    from evolve.errors import ConfigError
    from evolve.eval.prm_eval import check_truth, evaluate_prm, evaluate_trees, write_prm_report
    from evolve.search.records import TreeFileError, read_records

    if samples == 0 and trees is None:
        raise ConfigError("--samples 0 samples nothing, so there is nothing to check", where="--samples",
                          fix="give --trees FILE to check a tree file alone, or sample with e.g. --samples 4")
    if prm is None and samples:
        raise ConfigError("sampled solutions need a PRM to score them", where="--prm",
                          fix="give --prm DIR, or check only a tree's Q values with --samples 0 --trees FILE")
    if samples == 0 and no_truth:
        raise ConfigError("--no-truth with --samples 0 leaves no check", where="--no-truth",
                          fix="drop --no-truth (a tree check needs step truth), or sample with --samples 4")
    cfg = config_from(config, set_, {"data.domain": domain, "model.spec": model, "model.threads": threads,
                                     "model.lora": policy}, seed)
    the_domain = load_domain(cfg.data.domain)
    test = the_domain.load_split(split, limit=limit)
    check_truth(cfg.data.domain, test, not no_truth)  # before any model loads
    records = None
    if trees is not None:  # also before any model loads
        records = list(read_records(trees))
        foreign = sorted({str(r.get("domain")) for r in records} - {cfg.data.domain})
        if foreign:
            raise TreeFileError(f"holds trees of domain '{foreign[0]}', not '{cfg.data.domain}'", where=str(trees),
                                fix="pass the tree file this domain was searched into, or its --domain")
    dev = the_domain.load_split(dev_split, limit=limit) if dev_split and dev_split in the_domain.split_names else []
    with progress_sink() as events:
        if samples == 0:  # the tree file alone: no policy, and a PRM only if given
            scorer = build_scorer(str(prm), cfg) if prm else None
            report = evaluate_trees(the_domain, test, dev, records or [], scorer=scorer,
                                    prm_name=str(prm) if prm else None, events=events)
        else:
            reasoner = Reasoner.from_config(cfg, prm=prm)
            report = evaluate_prm(reasoner, test, dev, samples=samples, prm_name=str(prm), trees=records,
                                  use_truth=not no_truth, events=events)
    for path in write_prm_report(report, out):
        Console().print(str(path))
    Console().print((out / "prm_eval.md").read_text(encoding="utf-8"), markup=False, highlight=False)
