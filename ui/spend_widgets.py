"""Widgets of the Spend and Budgets pages: filters, the usage import, report downloads, tables."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.errors import InputError
from core.spend.demo import demo_status, keep_demo, remove_demo, seed_demo
from core.spend.imports.formats import FORMATS, LABELS
from core.spend.imports.generic import GENERIC_DOC
from core.spend.imports.importer import import_file
from core.spend.queries import SpendFilter, filter_options
from core.spend.reports import money, report_bytes, spend_text, unknown_note
from core.workspace import Workspace
from ui.state import follow, seed
from ui.tables import money_column

FORMAT_HELP = {
    "auto": "Read from the file's columns: OpenAI, Anthropic and LiteLLM exports are recognised; "
            "anything else is read as a generic file. " + GENERIC_DOC,
    "generic": GENERIC_DOC,
    "openai": "OpenAI Usage API / Costs API JSON pages, or the usage dashboard's CSV exports",
    "anthropic": "Anthropic Admin API usage_report/messages or cost_report JSON",
    "litellm": "LiteLLM proxy SpendLogs (CSV dump of LiteLLM_SpendLogs or /spend/logs JSON)",
}
MIME = {"csv": "text/csv", "html": "text/html", "pdf": "application/pdf",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def import_widget(ws: Workspace, key: str = "spend_import") -> None:
    """Upload a usage/cost export, pick its format, import it; report what happened."""
    with st.expander("Import usage from production", expanded=f"{key}_last" in st.session_state):
        fmt = st.selectbox("Format", FORMATS, key=f"{key}_format", format_func=LABELS.get)
        st.caption(FORMAT_HELP[fmt])
        upload = st.file_uploader("Usage file", type=["csv", "json", "jsonl"], key=f"{key}_file")
        if st.button("Import into the ledger", key=f"{key}_button", disabled=upload is None,
                     icon=":material/upload:"):
            try:
                report = import_file(ws, upload.getvalue(), fmt, name=upload.name)
            except InputError as err:
                st.error(str(err))
            else:
                st.session_state[f"{key}_last"] = report
                if report.first_day is not None:  # the date filter widens to show these rows
                    st.session_state["spend_imported_days"] = (report.first_day, report.last_day)
                st.rerun()  # so the sidebar budget banner counts the new spend at once
        report = st.session_state.get(f"{key}_last")
        if report is not None:
            (st.warning if report.bad_rows else st.success)(report.summary_line())
            for note in report.notes:
                st.caption(note)
            if report.problems:
                st.dataframe(pd.DataFrame([{"row": p.row, "column": p.column, "expected": p.expected,
                                            "got": p.got} for p in report.problems]),
                             hide_index=True, key=f"{key}_problems")


def demo_panel(ws: Workspace, key: str) -> bool:
    """The synthetic demo ledger: seeded on a first visit to an empty ledger, marked, and removed
    or kept in one click. True when the page should show it (it is there, undecided, and the
    ledger has no other row: the user's own spend is never mixed with made-up spend)."""
    if not st.session_state.get("_demo_seeded"):
        seed_demo(ws)
        st.session_state["_demo_seeded"] = True
    status = demo_status(ws)
    if not status.shown:
        return False
    show = status.own_rows == 0
    with st.container(border=True, key=f"{key}_demo"):
        if show:
            st.markdown(":orange-badge[:material/science: Synthetic demo ledger] Six weeks of "
                        "made-up usage, so this page has something to show. Not a cent of it is your "
                        "spend: budgets, alerts and reports never count it.")
        else:
            st.markdown(":orange-badge[:material/science: Synthetic demo ledger hidden] The ledger "
                        "now holds your own rows, so the demo is left out of every figure.")
        c1, c2 = st.columns(2)
        if c1.button("Remove the demo data", key=f"{key}_demo_remove", icon=":material/delete:"):
            remove_demo(ws)
            st.rerun()
        if c2.button("Keep it as ledger rows (budgets will count it)", key=f"{key}_demo_keep",
                     icon=":material/bookmark_add:"):
            keep_demo(ws)
            st.rerun()
    return show


def filter_widgets(ws: Workspace, key: str = "spend", demo: bool = False) -> SpendFilter | None:
    """Date range, scope and tag filters; None when the ledger is empty. ``demo``: over the
    synthetic demo ledger's rows too."""
    opts = filter_options(ws, demo=demo)
    if opts["first_day"] is None:
        return None
    first, last = opts["first_day"], opts["last_day"]
    # The range follows the ledger: the last 30 days it holds, reset when its days change, and
    # widened to the days of an import just made (or the page would show $0.00 for them).
    follow(f"{key}_days", (first, last), keys=[f"{key}_from", f"{key}_to"])
    window = (max(first, last - dt.timedelta(days=29)), last)
    imported = st.session_state.pop(f"{key}_imported_days", None)
    if imported is not None:
        st.session_state[f"{key}_from"] = min(st.session_state.get(f"{key}_from", window[0]), imported[0])
        st.session_state[f"{key}_to"] = max(st.session_state.get(f"{key}_to", window[1]), imported[1])
    c1, c2, c3 = st.columns([1, 1, 1])
    date_from = c1.date_input("From", key=seed(f"{key}_from", window[0]))
    date_to = c2.date_input("To", key=seed(f"{key}_to", window[1]))
    scope = c3.selectbox("Spend", ["production", "billable", "shadow", "evaluation", "simulation",
                                   "all"],
                         key=f"{key}_scope",
                         format_func={"production": "Production (no shadow, evaluation, simulation)",
                                      "billable": "Billable: every real dollar (incl. shadow)",
                                      "shadow": "Real shadow calls only",
                                      "evaluation": "Evaluation only (LLM judges)",
                                      "simulation": "Simulations only (never billed)",
                                      "all": "All rows (incl. simulations)"}.get)
    with st.expander("Filter by task, model, provider and tags"):
        f1, f2, f3 = st.columns(3)
        tasks = f1.multiselect("Tasks", opts["tasks"], key=f"{key}_tasks")
        models = f2.multiselect("Models", opts["models"], key=f"{key}_models")
        providers = f3.multiselect("Providers", opts["providers"], key=f"{key}_providers")
        g1, g2, g3 = st.columns(3)
        experiments = g1.multiselect("Experiments", opts["experiments"], key=f"{key}_experiments")
        variants = g2.multiselect("Variants", opts["variants"], key=f"{key}_variants")
        tags = g3.multiselect("Tags", opts["tags"], key=f"{key}_tags")
        h1, h2 = st.columns(2)
        sources = h1.multiselect("Sources", opts["sources"], key=f"{key}_sources")
        tiers = h2.multiselect("Service tiers", opts["service_tiers"], key=f"{key}_service_tiers")
    return SpendFilter(date_from=date_from, date_to=date_to, scope=scope, tasks=tuple(tasks),
                       models=tuple(models), providers=tuple(providers),
                       experiments=tuple(experiments), variants=tuple(variants),
                       sources=tuple(sources), service_tiers=tuple(tiers), tags=tuple(tags),
                       demo=demo)


def spend_metric(col, label: str, cost_usd: float | None, unknown_cost_rows: int = 0,
                 help: str | None = None) -> None:
    """A spend figure whose unknown part is said beside it (orange, no arrow), never hidden in $0.

    The value is the known spend ("unknown" when nothing is known); rows without a price are
    the delta line: "+ unknown (3 rows)".
    """
    known = cost_usd is not None and not pd.isna(cost_usd)
    value = money(cost_usd) if known and (cost_usd or not unknown_cost_rows) else "unknown"
    delta = None
    if unknown_cost_rows:
        rows = f"{unknown_cost_rows:,} row{'s' if unknown_cost_rows != 1 else ''}"
        delta = f"+ unknown ({rows})" if value != "unknown" else f"{rows} without a price"
    col.metric(label, value, delta=delta, delta_color="orange", delta_arrow="off",
               help=" ".join(t for t in (help, unknown_note(unknown_cost_rows)) if t) or None)


MONEY_COLUMNS = ("cost_usd", "cost_per_request", "cost_per_1k_requests")


def spend_table(frame: pd.DataFrame, key: str, column_config: dict | None = None) -> None:
    """A spend table in which a cost that is not known reads "unknown" (never blank, None or $0).

    ``cost_usd`` stays a number (sortable, "$" formatted) while every cost is known; when some
    row's cost is unknown it is shown as text instead: "$1.20", "$3.20 + unknown", "unknown".
    """
    view = frame.copy()
    config = dict(column_config or {})
    unknown = view["unknown_cost_rows"].fillna(0).astype(int) if "unknown_cost_rows" in view \
        else view["cost_usd"].isna().astype(int)
    if "cost_usd" in view and (unknown.any() or view["cost_usd"].isna().any()):
        view["cost_usd"] = [spend_text(None if pd.isna(c) else c, n)
                            for c, n in zip(view["cost_usd"], unknown)]
    for col in (c for c in MONEY_COLUMNS if c in view and pd.api.types.is_numeric_dtype(view[c])):
        config.setdefault(col, money_column(decimals=4))
    if "unknown_cost_rows" in view:
        config.setdefault("unknown_cost_rows", "rows of unknown cost")
    st.dataframe(view, hide_index=True, key=key, column_config=config)


def report_downloads(ws: Workspace, date_from, date_to, key: str = "spend_report") -> None:
    """One download button per format; each report is built only when its button is clicked."""
    st.caption(f"Cost report for {date_from} to {date_to} (production spend, shadow shown apart; "
               "spreadsheet cells that could run as formulas are neutralized).")
    cols = st.columns(4)
    for col, fmt in zip(cols, ("csv", "xlsx", "html", "pdf")):
        col.download_button(
            f"{fmt.upper()}", data=lambda fmt=fmt: report_bytes(ws, date_from, date_to, fmt),
            file_name=f"tradeoff-cost-report-{date_from}-{date_to}.{fmt}", mime=MIME[fmt],
            key=f"{key}_{fmt}", icon=":material/download:", on_click="ignore")
