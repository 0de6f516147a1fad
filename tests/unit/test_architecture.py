"""The layout's rules hold: contracts kept (and able to fail), no import circle, no private name
imported across modules, no sys.path edits in benchmarks."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from core.settings import REPO_ROOT

LINT_IMPORTS = shutil.which("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--config", "pyproject.toml"], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed (pip install -r requirements.txt)")
def test_import_contracts_are_kept():
    res = _lint(REPO_ROOT)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "0 broken" in res.stdout


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed (pip install -r requirements.txt)")
def test_an_upward_import_breaks_a_contract(tmp_path):
    """A copy of the tree where evaluation imports spend (upward) fails the layers contract."""
    for name in ("core", "ui", "app_pages"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "core" / "evaluation" / "upward.py").write_text("import core.spend.queries\n")
    res = _lint(tmp_path)
    assert res.returncode != 0
    assert "core.evaluation.upward -> core.spend.queries" in res.stdout
    assert "BROKEN" in res.stdout


def _graph():
    return grimp.build_graph("core", include_external_packages=False,
                             exclude_type_checking_imports=True)


def test_no_import_circle_in_core():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert circles == []


def test_no_private_name_crosses_a_module():
    offenders = []
    for path in (REPO_ROOT / "core").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core"):
                if any(part.startswith("_") for part in node.module.split(".")):
                    offenders.append(f"{path.relative_to(REPO_ROOT)} imports module {node.module}")
                offenders += [f"{path.relative_to(REPO_ROOT)} imports {node.module}.{a.name}"
                              for a in node.names if a.name.startswith("_")]
    assert offenders == []


def test_benchmarks_import_the_package_without_sys_path_edits():
    edits = [p.name for p in (REPO_ROOT / "bench").glob("*.py") if "sys.path" in p.read_text()]
    assert edits == []


# SQL a DuckLake cannot run: uniqueness, sequences and insert-or-replace (docs/architecture.md, "The store").
_NOT_DUCKLAKE = re.compile(r"\bPRIMARY\s+KEY\b|\bUNIQUE\b|\bnextval\s*\(|\bCREATE\s+(?:OR\s+REPLACE\s+)?SEQUENCE\b"
                           r"|\bINSERT\s+OR\s+(?:REPLACE|IGNORE)\b|\bON\s+CONFLICT\b|\bCREATE\s+(?:UNIQUE\s+)?INDEX\b")
# (case-sensitive: SQL is written in capitals here, prose such as "unique ids" is not SQL)


def _not_ducklake(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and (m := _NOT_DUCKLAKE.search(node.value))):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}: {m.group(0)}")
    return found


def test_every_sql_string_in_core_runs_on_a_ducklake():
    """A table written for the single-file store (a PRIMARY KEY, a sequence, INSERT OR REPLACE) fails
    on the lake only when it is first created: catch it in the source."""
    assert _not_ducklake(REPO_ROOT / "core") == []


def test_the_ducklake_sql_check_can_fail(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "old.py").write_text(
        '"""The old store had a PRIMARY KEY (a docstring, not SQL)."""\n'
        'DDL = """CREATE TABLE t (id BIGINT PRIMARY KEY DEFAULT nextval(\'s\'))"""\n'
        'UPSERT = "INSERT OR REPLACE INTO t VALUES (?)"\n'
        'OK = "one row per unique key"\n')
    assert _not_ducklake(tmp_path / "core") == ["core/old.py:2: PRIMARY KEY", "core/old.py:3: INSERT OR REPLACE"]


def test_doctests_of_core_are_collected_by_the_suite(pytestconfig):
    """``python -m pytest -q`` runs the examples in core's docstrings: the project's own
    configuration collects ``core`` with ``--doctest-modules`` (no flag given here)."""
    assert pytestconfig.getoption("doctestmodules") is True
    assert "core" in pytestconfig.getini("testpaths")
    res = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "core/routing/router_metrics.py", "core/spend/ledger.py"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    items = {line for line in res.stdout.splitlines() if "::" in line}
    assert {"core/routing/router_metrics.py::core.routing.router_metrics.apgr",
            "core/spend/ledger.py::core.spend.ledger.record_calls"} <= items, res.stdout + res.stderr
