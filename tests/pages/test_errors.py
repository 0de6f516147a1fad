"""No error reaches a page or the command line as a traceback (ui.errors, core.errors.describe).

Every page is driven through app.py (its navigation and error boundary) with a store that cannot
be reached (a team store whose server is down), and with a store whose every read and write
fails; each must end in a message that says what happened and what to do, never an exception
(nor the store's password).
"""
from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from core.settings import REPO_ROOT
from core.workspace import Workspace
from ui.navigation import PAGES

PAGE_FILES = [path for pages in PAGES.values() for path, _title, _icon in pages]


def open_page(path: str) -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.run()
    if path != PAGE_FILES[0]:
        at.switch_page(path).run()
    return at


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


UNREACHABLE = "postgresql://ana:s3cr3t-pw@127.0.0.1:9/tradeoff?data_path=/tmp/nowhere&connect_timeout=3"


@pytest.fixture
def unreachable_store(workspace_path, monkeypatch):
    """A team store whose PostgreSQL server is down (nothing listens on its port)."""
    monkeypatch.setenv("TRADEOFF_STORE", UNREACHABLE)
    return UNREACHABLE


@pytest.mark.parametrize("path", PAGE_FILES)
def test_every_page_says_the_store_cannot_be_reached(unreachable_store, path):
    """The page cannot open the workspace at all: said once, in the page's place."""
    at = open_page(path)
    assert not at.exception, at.exception
    text = errors(at)
    assert "The workspace cannot be used." in text
    assert "Cannot reach the team store postgresql://ana@127.0.0.1:9/tradeoff" in text
    assert "TRADEOFF_STORE" in text  # what to do about it
    assert "s3cr3t-pw" not in text


@pytest.fixture
def failing_store(workspace_path, monkeypatch):
    """Call it to make the open workspace fail every read and write, as a full disk would."""
    def fail(*args, **kwargs):
        raise duckdb.IOException(f'IO Error: Could not write file "{workspace_path}.wal": '
                                 "No space left on device")

    def start() -> None:
        monkeypatch.setattr(Workspace, "cursor", fail)
        monkeypatch.setattr(Workspace, "new_cursor", fail)
        monkeypatch.setattr(Workspace, "write", fail)
        monkeypatch.setattr(Workspace, "transaction", fail)
        monkeypatch.setattr(Workspace, "ensure", fail)
    return start


@pytest.mark.parametrize("path", PAGE_FILES)
def test_every_page_says_the_store_failed_instead_of_a_traceback(failing_store, path):
    """The app opens on a working workspace (sample seeded), then the disk fills up: the page's
    own queries fail, and the page says so in its main area (the sidebar's budget banner too)."""
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception and not at.error, at.exception or errors(at)
    failing_store()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    page = "\n".join(e.value for e in at.main.error)
    assert "The workspace cannot be used." in page, errors(at)
    assert "cannot read or write its files (IO Error: Could not write file" in page
    assert "No space left on device" in page and "nothing already stored was changed" in page
    assert "No space left on device" in "\n".join(e.value for e in at.sidebar.error)


def test_an_unexpected_error_is_one_line_and_the_traceback_goes_to_the_log(
        workspace_path, monkeypatch, caplog):
    monkeypatch.delenv("TRADEOFF_DEBUG")  # as users run it

    def broken(*args, **kwargs):
        raise KeyError("sk-live-abcdef0123456789 not found")  # a key in a message is redacted

    monkeypatch.setattr("ui.state.list_evalsets", broken)
    at = open_page("app_pages/compare.py")
    assert not at.exception, at.exception
    text = errors(at)
    assert "Something went wrong (KeyError: '[redacted] not found'); it is not your input." in text
    assert "The details are in the server log." in text and "sk-live" not in text
    logged = [r for r in caplog.records if r.name == "tradeoff.pages"]
    assert logged and logged[0].exc_info is not None  # the traceback, for whoever runs the server


def test_in_debug_mode_an_unexpected_error_still_raises(workspace_path, monkeypatch):
    monkeypatch.setattr("ui.state.list_evalsets", lambda *a, **k: {}["missing"])
    at = open_page("app_pages/compare.py")
    assert at.exception  # the suite runs with TRADEOFF_DEBUG=1: bugs fail their tests


# -- the command line --------------------------------------------------------------------------
def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "core", *args], cwd=REPO_ROOT, text=True,
                          capture_output=True, timeout=120, env=dict(os.environ, **env))


def test_cli_store_failures_are_one_line_and_exit_3(tmp_path):
    usage = tmp_path / "usage.csv"
    usage.write_text("ts,model,cost_usd\n2026-01-05T10:00:00Z,gpt-4o,0.5\n")
    down = cli("ledger", "import", str(usage), env={"TRADEOFF_STORE": UNREACHABLE})
    assert down.returncode == 3 and down.stderr.count("\n") == 1, down.stderr
    assert "Cannot reach the team store" in down.stderr and "Traceback" not in down.stderr
    assert "s3cr3t-pw" not in down.stderr
    nowhere = "/proc/tradeoff-workspace"  # a directory that cannot be made
    folder = cli("ledger", "import", str(usage), env={"TRADEOFF_STORE": "", "TRADEOFF_WORKSPACE": nowhere})
    assert folder.returncode == 3 and folder.stderr.count("\n") == 1, folder.stderr
    assert folder.stderr.startswith(f"error: Cannot create the workspace directory {nowhere}")
    assert "Traceback" not in folder.stderr


def test_cli_unexpected_errors_are_one_line_exit_1(monkeypatch, capsys):
    from core import cli as command

    monkeypatch.delenv("TRADEOFF_DEBUG")
    monkeypatch.setattr(command, "cmd_summary", lambda args: {}["boom"])
    assert command.main(["summary", "x.csv"]) == 1
    err = capsys.readouterr().err
    assert err == ("error: Something went wrong (KeyError: 'boom'); it is not your input. "
                   "Rerun with TRADEOFF_DEBUG=1 to see where.\n")
    monkeypatch.setenv("TRADEOFF_DEBUG", "1")
    with pytest.raises(KeyError):
        command.main(["summary", "x.csv"])


def test_cli_interrupted_is_one_line(monkeypatch, capsys):
    from core import cli as command

    def interrupted(args):
        time.sleep(0)
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "cmd_summary", interrupted)
    assert command.main(["summary", "x.csv"]) == 130
    assert capsys.readouterr().err == "error: interrupted\n"


def test_nan_and_absurd_token_counts_are_named_on_the_spend_page(workspace_path):
    usage = (b"ts,model,input_tokens,output_tokens\n2026-01-05T10:00:00Z,gpt-4o,NaN,10\n"
             b"2026-01-05T11:00:00Z,gpt-4o,1e20,10\n2026-01-05T12:00:00Z,gpt-4o,100,10\n")
    at = open_page("app_pages/spend.py")
    at.file_uploader(key="spend_import_file").set_value(("usage.csv", usage, "text/csv")).run()
    at.button(key="spend_import_button").click().run()
    assert not at.exception, at.exception
    text = "\n".join(w.value for w in at.warning)
    assert "3 rows read, 1 added" in text and "2 bad rows skipped" in text
    assert "usage.csv, row 1, column 'input_tokens': expected a whole number of tokens" in text
    assert "row 2, column 'input_tokens'" in text
