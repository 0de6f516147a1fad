"""Mutation testing of the money and quality modules: how many deliberate bugs the tests catch.

    nice -n 19 python -m bench.bench_mutation [--modules core/spend/ledger.py,...] [--jobs 1]

A separate job, never part of the test suite (it runs the selected tests once per mutant: minutes
on a quiet machine). Uses mutmut (pinned in requirements.txt) on a throw-away copy of the
repository, so neither the work tree nor its ``pyproject.toml`` is touched: the copy gets a
``[tool.mutmut]`` section naming the modules to mutate and the unit tests that cover them. Prints
a Markdown table (killed / survived / no tests / timeout per module, the score) and the names of
the surviving mutants; ``mutmut show NAME`` in the printed folder shows one.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from core.settings import REPO_ROOT

MODULES = ("core/spend/ledger.py", "core/pricing/usage.py", "core/evaluation/metrics.py",
           "core/evaluation/intervals.py")
TESTS = ("tests/unit/test_ledger.py", "tests/unit/test_ledger_money.py",
         "tests/unit/test_ledger_import.py", "tests/unit/test_pricing.py",
         "tests/unit/test_metrics.py", "tests/unit/test_stats.py", "tests/unit/test_frontier.py",
         "tests/unit/test_budgets.py", "tests/unit/test_reports.py", "tests/unit/test_evalset.py",
         "tests/unit/test_guardrails.py", "tests/unit/test_shadow.py")
COPY = ("core", "tests", "data", "conftest.py", "pyproject.toml")
STATUS = ("killed", "survived", "no tests", "timeout", "suspicious", "skipped")


def _toml_list(items) -> str:
    return "[" + ", ".join(f'"{x}"' for x in items) + "]"


def prepare(workdir: Path, modules, tests) -> None:
    for name in COPY:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, workdir / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.duckdb", "*.duckdb.wal", "artifacts"))
        else:
            shutil.copy(src, workdir / name)
    with open(workdir / "pyproject.toml", "a") as f:
        f.write(f"""
[tool.mutmut]
source_paths = ["core"]
only_mutate = {_toml_list(modules)}
also_copy = ["data", "conftest.py"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:randomly", "--timeout=120"]
pytest_add_cli_args_test_selection = {_toml_list(tests)}
""")


def results(workdir: Path) -> dict[str, str]:
    """mutant name -> status, from ``mutmut results --all true``."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=workdir,
                         capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if m:
            found[m.group(1)] = m.group(2).strip()
    return found


def module_of(mutant: str) -> str:
    """``core.spend.ledger.x_record_calls__mutmut_3`` -> ``core/spend/ledger.py``."""
    dotted = re.split(r"\.x[_ǁ]", mutant)[0]
    return dotted.replace(".", "/") + ".py"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", default=",".join(MODULES))
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the copy (to `mutmut show` a mutant)")
    args = ap.parse_args(argv)
    modules = [m for m in args.modules.split(",") if m]
    tests = [t for t in args.tests.split(",") if t]
    workdir = Path(tempfile.mkdtemp(prefix="tradeoff-mutation-"))
    try:
        prepare(workdir, modules, tests)
        t0 = time.monotonic()
        # mutmut puts its mutated copy first on the import path itself (a PYTHONPATH naming it before it
        # exists would be cached as empty)
        subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)],
                       cwd=workdir, stdout=subprocess.DEVNULL)
        seconds = time.monotonic() - t0
        found = results(workdir)
        per_module: dict[str, Counter] = {}
        for name, status in found.items():
            per_module.setdefault(module_of(name), Counter())[status] += 1
        load = os.getloadavg()
        print(f"mutmut on {len(modules)} modules, {len(found)} mutants, {seconds:.0f} s wall, "
              f"load average {load[0]:.1f} / {load[2]:.1f} (1 / 15 min)\n")
        print("| module | " + " | ".join(STATUS) + " | score (killed / tested) |")
        print("|---" * (len(STATUS) + 2) + "|")
        total = Counter()
        for module in sorted(per_module):
            c = per_module[module]
            total += c
            print(_row(module, c))
        print(_row("**all**", total))
        survivors = sorted(n for n, s in found.items() if s == "survived")
        if survivors:
            print("\nSurvivors:\n" + "\n".join(f"- {n}" for n in survivors))
        if args.keep:
            print(f"\nCopy kept in {workdir} (cd there; python -m mutmut show NAME)")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _row(name: str, c: Counter) -> str:
    tested = c["killed"] + c["survived"] + c["timeout"] + c["suspicious"]
    score = f"{(c['killed'] + c['timeout']) / tested:.0%}" if tested else "-"
    return f"| {name} | " + " | ".join(str(c[s]) for s in STATUS) + f" | {score} |"


if __name__ == "__main__":
    raise SystemExit(main())
