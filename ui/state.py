"""Workspace and eval-set selection shared by every page.

The workspace opens once per server process (other processes, such as CLI imports, reports,
live runs and gateway workers, use it at the same time); the selected eval set lives in
``st.session_state["evalset_id"]`` so every page works on the same one. On first run an empty
workspace is seeded with the shipped synthetic sample so the app never opens on nothing. A store
that cannot be used (its server down, its disk full) raises ``StoreUnavailableError``, which the
page's error boundary (``ui.errors``) shows as a message, never a traceback.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import streamlit as st

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.evaluation.loading import load_csv
from core.evaluation.rescore import Rescored, apply_plan
from core.evaluation.score_store import plan_version
from core.evaluation.store import list_evalsets, load_evalset, save_evalset
from core.pricing.catalog import Catalog
from core.pricing.edits import catalog_for
from core.settings import REPO_ROOT
from core.workspace import Workspace, default_path, open_workspace

SAMPLE_PATH = REPO_ROOT / "data" / "sample_evalset.csv"
SAMPLE_NAME = "Sample: support & leads (synthetic demo data)"


@st.cache_resource(show_spinner="Opening the workspace (the first open of an older workspace migrates it)...")
def _workspace(key: str) -> Workspace:
    from core.workspace.maintenance import start_background

    ws = open_workspace()  # the workspace the environment names; `key` identifies it
    start_background(ws)  # a long-lived process keeps the store compact
    return ws


def workspace() -> Workspace:
    ws = _workspace(default_path())
    if ws.closed:  # closed by its owner (tests do): open it again
        _workspace.clear()
        ws = _workspace(default_path())
    _seed_sample(ws)
    return ws


def catalog() -> Catalog:
    """The price catalog of this workspace: its price edits on top of the shipped prices
    (re-read only when an edit changed, in this process or another)."""
    return catalog_for(workspace())


def _seed_sample(ws: Workspace) -> None:
    if st.session_state.get("_sample_checked"):
        return
    if list_evalsets(ws).empty and SAMPLE_PATH.exists():
        sample = load_csv(SAMPLE_PATH, name=SAMPLE_NAME)
        from dataclasses import replace

        save_evalset(ws, replace(sample, synthetic=True), name=SAMPLE_NAME)
    st.session_state["_sample_checked"] = True


@st.cache_resource(show_spinner="Loading eval set...", max_entries=8)
def _load(key: str, evalset_id: int, _version: int) -> EvalSet:
    return load_evalset(workspace(), evalset_id)


def stored_evalset(evalset_id: int) -> EvalSet:
    """The stored eval set as uploaded (the file's scores), loaded once per server and shared by
    every session (it is immutable)."""
    return _load(default_path(), int(evalset_id), 0)


@st.cache_resource(show_spinner="Scoring the answers...", max_entries=8)
def _scored(key: str, evalset_id: int, version: str) -> Rescored:  # version: part of the key
    return apply_plan(workspace(), evalset_id, _load(key, evalset_id, 0))


def evalset_version(evalset_id: int) -> str:
    """Changes when the eval set's scores change (a scorer chosen, a judge's verdicts stored):
    part of the key of every cached figure built on it."""
    return plan_version(workspace(), int(evalset_id))


def scored_evalset(evalset_id: int) -> Rescored:
    """The stored eval set scored by the scorers chosen for its tasks (core.evaluation.rescore),
    recomputed only when that choice changes or a judge's verdicts arrive."""
    return _scored(default_path(), int(evalset_id), evalset_version(evalset_id))


def get_evalset(evalset_id: int) -> EvalSet:
    """The eval set every page works on: stored, with its tasks' scorers applied."""
    return scored_evalset(evalset_id).evalset


def store_upload(name: str, data: bytes) -> int:
    """Validate and store an uploaded CSV; raises InputError with every bad row. The file's
    SHA-256 is stored with it, so two uploads of one name are told apart."""
    evalset = load_csv(data, name=name, catalog=catalog())
    return save_evalset(workspace(), evalset, name=name, digest=hashlib.sha256(data).hexdigest())


def seed(key: str, value: Any) -> str:
    """``key`` with ``value`` as its widget's starting value, set through Session State so the
    browser shows it too (a widget's ``value=``/``default=`` does not reach a browser that already
    shows that widget). Returns the key, for ``st.widget(..., key=seed(key, value))``."""
    if key not in st.session_state:
        st.session_state[key] = value
    return key


def follow(marker: str, token: Any, keys: Iterable[str] = (), prefix: str | None = None) -> bool:
    """Forget widget state that belongs to data which has changed: when ``token`` (what the
    widgets were set up for: an eval set's id or models, the ledger's date range) differs from
    the last run's, the ``keys`` (and every key starting with ``prefix``) are dropped, so
    :func:`seed` starts them afresh for the new data. True when the data changed."""
    name = f"_follow_{marker}"
    previous = st.session_state.get(name)
    st.session_state[name] = token
    if previous is None or previous == token:
        return False
    for key in [k for k in st.session_state if k in set(keys)
                or (prefix is not None and str(k).startswith(prefix))]:
        del st.session_state[key]
    return True


def evalset_label(row) -> str:
    """How the picker names a stored eval set: name, version among uploads of that name,
    size, content hash."""
    parts = [row.name]
    if getattr(row, "version", 1) > 1 or getattr(row, "versions", 1) > 1:
        parts.append(f"v{row.version}")
    parts += [f"{row.n_items:,} items", f"{row.n_models} models"]
    if isinstance(getattr(row, "digest", None), str) and row.digest:
        parts.append(f"sha256 {row.digest[:8]}")
    if row.synthetic:
        parts.append("synthetic demo")
    return " · ".join(parts)


def evalset_picker(label: str = "Eval set", key: str = "evalset_picker",
                   allow_upload: bool = True, kinds: tuple[str, ...] | None = None) -> EvalSet | None:
    """Pick a stored eval set (or upload one); the choice is shared across pages."""
    ws = workspace()
    if allow_upload:
        with st.expander("Upload an eval set (CSV: long, wide or inputs-only)",
                         expanded=list_evalsets(ws).empty):
            upload = st.file_uploader("CSV file", type=["csv"], key=f"{key}_upload")
            if upload is not None and st.session_state.get(f"{key}_stored") != upload.file_id:
                try:
                    new_id = store_upload(upload.name, upload.getvalue())
                except InputError as err:
                    st.error(str(err))
                else:
                    st.session_state[f"{key}_stored"] = upload.file_id
                    st.session_state["evalset_id"] = new_id
                    # The selectbox below keeps its own state; point it at the new set too.
                    st.session_state[key] = new_id
                    st.success(f"Stored {upload.name} in the workspace.")
    sets = list_evalsets(ws)
    if kinds is not None:
        sets = sets[sets["format"].isin(kinds)]
    if sets.empty:
        st.info("No eval set yet: upload a CSV above.")
        return None
    ids = sets["id"].tolist()
    names = {row.id: evalset_label(row) for row in sets.itertuples()}
    current = st.session_state.get("evalset_id")
    index = ids.index(current) if current in ids else 0
    chosen = st.selectbox(label, ids, index=index, format_func=names.get, key=key)
    st.session_state["evalset_id"] = chosen
    evalset = get_evalset(chosen)
    if evalset.synthetic:
        st.caption(":orange[Synthetic demo data] generated by `data/make_sample.py`; "
                   "upload your own eval set to decide on real numbers.")
    for note in evalset.notes:
        st.caption(f"Note: {note}")
    return evalset
