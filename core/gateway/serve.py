"""``python -m core serve --port PORT [--host H] [--workers N] [--policy POLICY.json ...]``

The parent process owns the store (:class:`core.gateway.agent.StoreAgent`: commits the spooled
calls, publishes deployments, writes the status); the workers serve HTTP. One worker runs in the
parent itself; ``--workers N`` starts N processes sharing the port (uvicorn's supervisor: a dead
worker is replaced). SIGTERM (or Ctrl-C) stops accepting, lets in-flight requests finish (up to
``--drain`` seconds), then commits every spooled row before exiting.

Workers read their settings from ``TRADEOFF_GATEWAY_SETTINGS`` (JSON), which the parent sets.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import InputError
from core.settings import env_text

SETTINGS_ENV = "TRADEOFF_GATEWAY_SETTINGS"
log = logging.getLogger("tradeoff.gateway")


@dataclass
class ServeSettings:
    port: int = 8787
    host: str = "127.0.0.1"
    workers: int = 1
    policies: list[str] = field(default_factory=list)
    workspace: str | None = None
    runtime: str | None = None
    spool: str | None = None  # the workspace's spool directory on this machine
    timeout_s: float = 60.0
    max_retries: int = 2
    drain_s: float = 30.0

    def check(self) -> None:
        if not 0 < self.port < 65536:
            raise InputError(f"--port must be between 1 and 65535; got {self.port}")
        if not 1 <= self.workers <= 64:
            raise InputError(f"--workers must be between 1 and 64; got {self.workers}")
        if self.timeout_s <= 0:
            raise InputError(f"--timeout must be positive; got {self.timeout_s}")
        if self.max_retries < 0:
            raise InputError(f"--max-retries must be 0 or more; got {self.max_retries}")


def build_gateway(settings: ServeSettings):
    """A worker's app: engine, upstream client, sink, reloading from the runtime folder."""
    from core.gateway.app import Gateway
    from core.gateway.calls import Caller, CallSettings
    from core.gateway.engine import Engine
    from core.gateway.guard import Guard
    from core.gateway.sink import open_sink
    from core.gateway.upstream import Upstream
    from core.pricing.catalog import Catalog

    runtime = Path(settings.runtime)
    caller = Caller(Upstream(), Catalog(), CallSettings(timeout_s=settings.timeout_s,
                                                        max_retries=settings.max_retries))
    return Gateway(Engine(caller), open_sink(settings.spool), runtime, guard=Guard(runtime))


def app_from_env():
    """uvicorn's app factory in each worker process."""
    raw = env_text(SETTINGS_ENV)
    if not raw:
        raise RuntimeError(f"{SETTINGS_ENV} is not set: start workers with `python -m core serve`")
    return build_gateway(ServeSettings(**json.loads(raw)))


def _logging() -> None:
    from core.live.keys import install_log_redaction

    install_log_redaction()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("uvicorn.access",):
        logging.getLogger(name).setLevel(logging.WARNING)


def serve(settings: ServeSettings) -> int:
    import uvicorn

    from core.gateway.agent import StoreAgent
    from core.gateway.deployments import read_policy_file
    from core.gateway.runtime import runtime_dir
    from core.workspace.location import resolve

    settings.check()
    _logging()
    location = resolve(settings.workspace)  # (never shown: its label has no password)
    runtime = Path(settings.runtime) if settings.runtime else runtime_dir(location)
    location.spool_dir.mkdir(parents=True, exist_ok=True)
    settings.runtime, settings.spool = str(runtime), str(location.spool_dir)
    files = {}
    for path in settings.policies:
        name, policy, options = read_policy_file(path)
        if name in files:
            raise InputError(f"Two --policy files deploy under the same name '{name}'")
        files[name] = (policy, options, f"file {Path(path).name}")
    from core.gateway.watch import BudgetWatch

    agent = StoreAgent(location, runtime, file_policies=files, hooks=[BudgetWatch(runtime)])
    agent.cycle(force_poll=True)  # recover orphaned spools, publish what to serve
    if agent.store_state != "ok":
        log.warning("the store is unreachable (%s): serving anyway, calls are spooled in %s",
                    agent.store_error, location.spool_dir)
    agent.start()
    os.environ[SETTINGS_ENV] = json.dumps(asdict(settings))
    if settings.workers > 1:
        metrics_dir = runtime / f"prometheus-{os.getpid()}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    config = uvicorn.Config("core.gateway.serve:app_from_env", factory=True, host=settings.host,
                            port=settings.port, workers=settings.workers, loop="uvloop",
                            http="httptools", log_level="warning", access_log=False,
                            log_config=None, timeout_graceful_shutdown=settings.drain_s,
                            backlog=4096, timeout_keep_alive=30)
    log.info("Tradeoff gateway on http://%s:%d (%d worker(s)), workspace %s", settings.host,
             settings.port, settings.workers, location.label)
    stopped = []
    for sig in (signal.SIGTERM, signal.SIGINT):  # uvicorn re-raises the signal it caught when it
        signal.signal(sig, lambda signum, frame: stopped.append(signum))  # is done: record it
    try:
        if settings.workers == 1:
            uvicorn.Server(config).run()
        else:
            from uvicorn.supervisors import Multiprocess

            sock = config.bind_socket()
            Multiprocess(config, sockets=[sock]).run()
    finally:
        agent.stop(drain_s=settings.drain_s)
        if settings.workers > 1:
            shutil.rmtree(runtime / f"prometheus-{os.getpid()}", ignore_errors=True)
        left = agent.status()
        log.info("gateway stopped: %d row(s) committed, %d spool segment(s) left (%s), "
                 "%d segment(s) of dead workers recovered", left["rows_committed"],
                 left["backlog_segments"], left["store"], left["orphaned_segments_recovered"])
    return 0
