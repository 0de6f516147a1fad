"""Start several ``tests.helpers.store_workers`` processes on one workspace and collect them."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

from core.settings import REPO_ROOT


@dataclass
class Worker:
    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    def expect(self, prefix: str) -> str:
        """Read stdout until a line starting with ``prefix``; returns it."""
        for line in self.proc.stdout:
            self.lines.append(line.strip())
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"worker ended before '{prefix}': {self.lines[-5:]}\n{self.stderr()}")

    def finish(self, timeout: float = 600) -> list[str]:
        if self.proc.stdin is not None and self.proc.stdin.closed:
            self.proc.stdin = None
        out, err = self.proc.communicate(timeout=timeout)
        self.lines += [ln.strip() for ln in out.splitlines()]
        assert self.proc.returncode == 0, f"worker failed ({self.proc.returncode}):\n{err[-3000:]}"
        return self.lines

    def stderr(self) -> str:
        return self.proc.stderr.read()[-3000:] if self.proc.stderr and self.proc.poll() is not None else ""

    def value(self, key: str) -> str:
        """The last ``key VALUE`` line."""
        return next(ln.split(" ", 1)[1] for ln in reversed(self.lines) if ln.startswith(key + " "))


def start(*args: str, env: dict | None = None, wait: bool = True) -> Worker:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.store_workers", *args, *(["--wait"] if wait else [])],
        cwd=REPO_ROOT, env={**os.environ, **(env or {})}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Worker(proc)


def run_together(*specs: tuple[str, ...], timeout: float = 600) -> list[Worker]:
    """Start every worker, wait until all have opened the workspace, release them at once."""
    workers = [start(*spec) for spec in specs]
    for w in workers:
        w.expect("ready")
    for w in workers:
        w.proc.stdin.write("go\n")
        w.proc.stdin.flush()
    for w in workers:
        w.finish(timeout)
    return workers
