"""`evolve serve` (the OpenAI-compatible API with the web chat at `/`) and `evolve chat` (the web chat
alone, or `--terminal`: a chat in this terminal, on local models or on a server with `--url`)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from evolve.cli.common import CONFIG, MODEL, SET, THREADS, config_from
from evolve.errors import ConfigError

RUN = typer.Option(None, "--run", help="a self-evolution run folder: serve its policy and PRM (runs/NAME)")
ROUND = typer.Option(None, "--round", min=0, help="which round's models (default: the last trained)")
DOMAINS = typer.Option([], "--domain", help="a domain to serve (repeatable; default the run's or data.domain)")
SERVE_POLICY = typer.Option(None, "--policy", help="a LoRA adapter folder (instead of --run)")
SERVE_PRM = typer.Option(None, "--prm", help="a trained PRM folder (instead of --run): adds pvs, bon-*, beam, mcts")
HOST = typer.Option(None, "--host", help="address to bind (serve.host, default 127.0.0.1)")
PORT = typer.Option(None, "--port", help="port (serve.port, default 8000)")
API_KEY = typer.Option(None, "--api-key", envvar="EVOLVE_API_KEY", show_envvar=True,
                       help="clients must send 'Authorization: Bearer KEY'; needed to bind beyond loopback")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def _plan(run: Path | None, round_: int | None, domains: list[str], model: str | None, policy: Path | None,
          prm: Path | None, config: Path | None, set_: list[str], threads: int | None, host: str | None,
          port: int | None):
    """The config and what to load, checked before any model loads."""
    from domains import load_domain
    from evolve.chat.loading import run_models
    from evolve.config import load_config

    sources: dict = {}
    if run is not None:
        if policy is not None or prm is not None:
            raise ConfigError("--run chooses the policy and PRM", where="--run", fix="pass either --run or --policy/--prm")
        if config is not None:
            raise ConfigError("--run brings its own config (RUN/config.yaml)", where="--config",
                              fix="drop --config; change single keys with --set")
        found = run_models(run, round_)
        policy_dir, prm_dir = found.policy, found.prm
        sources = {"run": str(run), "round": found.round}
        cfg = load_config(Path(run) / "config.yaml", list(set_))
    else:
        cfg = config_from(config, set_, {})
        policy_dir = str(policy) if policy else cfg.model.lora
        prm_dir = str(prm) if prm else None
    flags = {"model.spec": model, "model.threads": threads, "serve.host": host, "serve.port": port}
    for key, value in flags.items():
        if value is not None:
            section, name = key.split(".")
            setattr(getattr(cfg, section), name, value)
    names = list(domains) or [cfg.data.domain]
    for name in names:
        load_domain(name)  # an unknown domain fails here, before a model loads
    for path, flag in ((policy_dir, "--policy"), (prm_dir, "--prm")):
        if path is not None and not Path(path).exists():
            raise ConfigError(f"'{path}' does not exist", where=flag, fix="pass a folder a training run wrote")
    sources.update(policy=policy_dir, prm=prm_dir, base=cfg.model.spec)
    return cfg, names, policy_dir, prm_dir, sources


def _host(cfg, names, policy_dir, prm_dir, sources, generator=None, scorer=None):
    from evolve.chat.loading import load_context, served_models
    from evolve.serve.app import Host

    def load():
        context = load_context(cfg, names, policy=policy_dir, prm=prm_dir, sources=sources, generator=generator,
                               scorer=scorer)
        return context, served_models(context)

    return Host(load)


def build_server_app(cfg, names, policy_dir, prm_dir, sources, *, api_key: str | None, web: bool = True,
                     generator=None, scorer=None):
    """The FastAPI app of `evolve serve`, its host (loading in the background) and the reasoner ids.
    `generator` and `scorer` stand in for the models a config names (tests, benchmarks)."""
    from domains import evolve_home
    from evolve.chat.models import reasoner_ids
    from evolve.chat.store import ConversationStore
    from evolve.serve.app import create_app

    host = _host(cfg, names, policy_dir, prm_dir, sources, generator, scorer)
    app = create_app(host, cfg.serve, api_key=api_key)
    ids = reasoner_ids(names, list(cfg.serve.modes), prm_dir is not None or scorer is not None)
    if web:
        from evolve.serve.web import mount_web

        store = ConversationStore(cfg.serve.conversations or evolve_home() / "chat" / "conversations.sqlite")
        app = mount_web(app, host, ids, store)
    return app, host, ids


def serve(
    run: Path | None = RUN,
    round_: int | None = ROUND,
    domain: list[str] = DOMAINS,
    model: str | None = MODEL,
    policy: Path | None = SERVE_POLICY,
    prm: Path | None = SERVE_PRM,
    host: str | None = HOST,
    port: int | None = PORT,
    api_key: str | None = API_KEY,
    web: bool = typer.Option(True, "--web/--no-web", help="also serve the web chat at /"),
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    threads: int | None = THREADS,
) -> None:
    from evolve.serve import require_serve_extra

    require_serve_extra()
    plan = _plan(run, round_, domain, model, policy, prm, config, set_, threads, host, port)
    cfg = plan[0]
    if not is_loopback(cfg.serve.host) and not api_key:
        raise ConfigError(f"binding to {cfg.serve.host} exposes the server beyond this machine", where="--host",
                          fix="pass --api-key KEY (or set EVOLVE_API_KEY), or bind to 127.0.0.1")
    app, loading, ids = build_server_app(*plan, api_key=api_key, web=web)
    _announce(cfg, ids, api_key, web)
    loading.start()
    from evolve.serve.app import run_server

    run_server(app, cfg.serve.host, cfg.serve.port)


def _announce(cfg, ids: list[str], api_key: str | None, web: bool) -> None:
    console = Console(stderr=True)
    base = f"http://{cfg.serve.host}:{cfg.serve.port}"
    console.print(f"[bold]evolve serve[/]: OpenAI-compatible API at {base}/v1"
                  + (f", web chat at {base}/" if web else ""))
    from importlib.metadata import entry_points

    plugins = sorted(e.name for e in entry_points(group="evolve.chat"))
    console.print(f"models: {', '.join(ids)}" + (f", and {', '.join(plugins)}/<domain>" if plugins else ""))
    console.print("API key: required" if api_key else "API key: none (loopback only)")


def chat(
    run: Path | None = RUN,
    round_: int | None = ROUND,
    domain: list[str] = DOMAINS,
    model: str | None = MODEL,
    policy: Path | None = SERVE_POLICY,
    prm: Path | None = SERVE_PRM,
    terminal: bool = typer.Option(False, "--terminal", help="chat in this terminal instead of the browser"),
    url: str | None = typer.Option(None, "--url", help="with --terminal: a running `evolve serve` (http://HOST:PORT)"),
    mode: str = typer.Option("cot", "--mode", help="with --terminal: the first mode (/mode changes it)"),
    api_key: str | None = API_KEY,
    host: str | None = HOST,
    port: int | None = PORT,
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    threads: int | None = THREADS,
) -> None:
    if terminal:
        from evolve.cli.chat_repl import local_session, remote_session, repl

        if url is not None:
            session = remote_session(url, api_key or os.environ.get("EVOLVE_API_KEY"), mode)
        else:
            session = local_session(*_plan(run, round_, domain, model, policy, prm, config, set_, threads, None, None),
                                    mode=mode)
        repl(session)
        return
    if url is not None:
        raise ConfigError("--url needs --terminal", where="--url", fix="open the server's page in a browser instead")
    serve(run, round_, domain, model, policy, prm, host, port, api_key, True, config, set_, threads)
