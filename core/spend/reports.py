"""Cost reports for a date range: CSV, Excel, self-contained HTML and PDF.

    write_report(ws, "2026-03-01", "2026-03-31", "xlsx", "march.xlsx")

Every format carries the same views (totals, by day, by model, by task, by provider, by service
tier, the most expensive calls, budgets), the period, and the date of the price snapshot used for
any cost the app estimated from token counts. Rows whose cost is unknown are counted and shown
as unknown, never summed as $0; shadow calls and simulations (replays on eval sets, never
billed) are totalled apart from production spend. CSV and XLSX cells are guarded against formula injection
(:mod:`core.exports`). The HTML file inlines plotly.js (no network needed to open it); the PDF
is drawn by fpdf2 with matplotlib charts (no browser at run time).
"""
from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd

from core.errors import InputError
from core.exports import pdf_text, write_csv, write_xlsx
from core.pricing.catalog import price_snapshot_date
from core.spend.budgets import budget_status, workspace_today
from core.spend.queries import SpendFilter, spend_by, top_calls, totals, traffic_share
from core.workspace import Workspace

FORMATS = ("csv", "xlsx", "html", "pdf")


def report_data(ws: Workspace, date_from, date_to, top_n: int = 25) -> dict:
    """Every view of the report, computed once for all formats."""
    flt = SpendFilter(date_from=date_from, date_to=date_to)
    flt.where()  # validates the dates (InputError on a bad or reversed range)
    by_model = spend_by(ws, ["model"], flt).merge(
        traffic_share(ws, flt)[["model", "request_share", "cost_share"]], on="model", how="left")
    today = workspace_today(ws)  # the workspace's date (its timezone), not the server's
    if flt.date_to and pd.Timestamp(flt.date_to).date() < today:
        status = budget_status(ws, pd.Timestamp(flt.date_to).date())  # as of the report's end
    else:
        status = budget_status(ws)  # each budget's today
    return {
        "period": (str(date_from), str(date_to)),
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "price_snapshot": price_snapshot_date(),
        "totals": totals(ws, flt),
        "shadow": totals(ws, SpendFilter(date_from=date_from, date_to=date_to, scope="shadow")),
        "simulation": totals(ws, SpendFilter(date_from=date_from, date_to=date_to, scope="simulation")),
        "by_day": spend_by(ws, ["day"], flt),
        "by_day_model": spend_by(ws, ["day", "model"], flt),
        "by_model": by_model.sort_values("cost_usd", ascending=False, ignore_index=True),
        "by_task": spend_by(ws, ["task"], flt).sort_values("cost_usd", ascending=False, ignore_index=True),
        "by_provider": spend_by(ws, ["provider"], flt).sort_values("cost_usd", ascending=False,
                                                                   ignore_index=True),
        "by_service_tier": spend_by(ws, ["service_tier"], flt),
        "top_calls": top_calls(ws, flt, top_n),
        "budgets": status,
        "budgets_as_of": today,
    }


def _views(data: dict) -> dict[str, pd.DataFrame]:
    """The tables, with display-ready columns."""
    keep = ["cost_usd", "unknown_cost_rows", "requests", "rows", "cost_per_1k_requests",
            "input_tokens", "output_tokens"]
    by_day = data["by_day"].copy()
    by_day["day"] = by_day["day"].dt.date
    budgets = data["budgets"].copy()
    if not budgets.empty:
        budgets["task"] = budgets["task"].fillna("(overall)")
        budgets["level"] = budgets["level"].map(lambda v: "" if pd.isna(v) else f"{int(v)}%")
    return {
        "By day": by_day[["day"] + keep],
        "By model": data["by_model"][["model"] + keep + ["request_share", "cost_share"]],
        "By task": data["by_task"][["task"] + keep],
        "By provider": data["by_provider"][["provider"] + keep],
        "By service tier": data["by_service_tier"][["service_tier"] + keep],
        "Top calls": data["top_calls"],
        "Budgets": budgets,
    }


def money(value: float | None) -> str:
    """$1,234.56, or four decimals under a dollar (LLM spend is often cents).

    >>> money(1234.5), money(0.00125), money(None)
    ('$1,234.50', '$0.0013', 'n/a')
    """
    if value is None or pd.isna(value):
        return "n/a"
    if value == 0:
        return "$0.00"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:,.4f}"


def signed_money(value: float) -> str:
    """A money difference with its sign first, as a metric delta reads it: ``-$8.10``, ``+$2.00``.

    >>> signed_money(-8.1), signed_money(2), signed_money(0.0)
    ('-$8.10', '+$2.00', '$0.00')
    """
    if value == 0 or pd.isna(value):
        return money(value)
    return ("-" if value < 0 else "+") + money(abs(value))


def spend_text(cost_usd: float | None, unknown_cost_rows: int = 0) -> str:
    """Spend with its unknown part said: never a plain $0.00 for rows no price was found for.

    >>> spend_text(2.5), spend_text(2.5, 1), spend_text(None, 3)
    ('$2.50', '$2.50 + unknown', 'unknown')
    """
    if not unknown_cost_rows:
        return money(cost_usd if cost_usd is not None else 0.0)
    if cost_usd is None or pd.isna(cost_usd) or cost_usd == 0:
        return "unknown"
    return f"{money(cost_usd)} + unknown"


def unknown_note(unknown_cost_rows: int) -> str:
    """One sentence about rows of unknown cost ('' when there are none)."""
    if not unknown_cost_rows:
        return ""
    return (f"{unknown_cost_rows:,} ledger row{'s have' if unknown_cost_rows != 1 else ' has'} an "
            "unknown cost (no price for the model, or an export without models): counted as "
            "unknown, not as $0.")


def _summary_lines(data: dict) -> list[str]:
    t, s, sim = data["totals"], data["shadow"], data["simulation"]
    per_1k = t["cost_per_1k_requests"]
    lines = [
        f"Tradeoff cost report {data['period'][0]} to {data['period'][1]}",
        f"Total production spend: {spend_text(t['cost_usd'], t['unknown_cost_rows'])}",
        f"Requests: {t['requests']:,}   Ledger rows: {t['rows']:,}",
        f"Cost per 1,000 requests: {money(per_1k)}",
        f"Shadow spend (kept apart): {spend_text(s['cost_usd'], s['unknown_cost_rows'])}",
        f"Simulated spend (replays on eval sets, never billed): "
        f"{spend_text(sim['cost_usd'], sim['unknown_cost_rows'])}",
    ]
    tiers = data["by_service_tier"]
    batch = tiers[tiers["service_tier"] == "batch"]
    if len(batch):
        lines.append(f"Batch spend (at the batch price, included above): "
                     f"{spend_text(batch['cost_usd'].iloc[0], int(batch['unknown_cost_rows'].iloc[0]))}")
    if t["unknown_cost_rows"]:
        lines.append(unknown_note(t["unknown_cost_rows"]))
    lines.append(f"Price snapshot: {data['price_snapshot']}   Generated: {data['generated']}")
    return lines


def write_report(ws: Workspace, date_from, date_to, fmt: str, out_path) -> Path:
    """Write the report for ``date_from``..``date_to`` (inclusive) as ``fmt`` to ``out_path``."""
    if fmt not in FORMATS:
        raise InputError(f"Report format: expected one of {', '.join(FORMATS)}, got '{fmt}'")
    out = Path(out_path)
    if out.parent and not out.parent.exists():
        raise InputError(f"{out.parent}: no such folder for the report")
    data = report_data(ws, date_from, date_to)
    {"csv": _csv, "xlsx": _xlsx, "html": _html, "pdf": _pdf}[fmt](data, out)
    return out


def report_bytes(ws: Workspace, date_from, date_to, fmt: str) -> bytes:
    """The report as bytes (for a download button)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"report.{fmt}"
        write_report(ws, date_from, date_to, fmt, path)
        return path.read_bytes()


# -- CSV: one tidy table ---------------------------------------------------------------------
def _csv(data: dict, out: Path) -> None:
    rows = [{"section": "report", "key": "period", "detail": f"{data['period'][0]}..{data['period'][1]}"},
            {"section": "report", "key": "price_snapshot", "detail": data["price_snapshot"]},
            {"section": "report", "key": "generated", "detail": data["generated"]}]

    def measures(r: dict) -> dict:
        unknown = int(r.get("unknown_cost_rows") or 0)
        return {"cost_usd": r["cost_usd"], "requests": r["requests"], "rows": r["rows"],
                "cost_per_1k_requests": r["cost_per_1k_requests"], "unknown_cost_rows": unknown,
                "detail": None if not unknown else "cost unknown" if pd.isna(r["cost_usd"])
                else "cost unknown for some rows: cost_usd is the known part"}

    for section, key in (("total", "totals"), ("shadow_total", "shadow"),
                         ("simulation_total", "simulation")):
        rows.append({"section": section, "key": "all", **measures(data[key])})
    for section, frame, col in (("day", data["by_day"], "day"), ("model", data["by_model"], "model"),
                                ("task", data["by_task"], "task"),
                                ("provider", data["by_provider"], "provider"),
                                ("service_tier", data["by_service_tier"], "service_tier")):
        for r in frame.to_dict("records"):
            key = r[col].date().isoformat() if section == "day" else r[col]
            rows.append({"section": section, "key": key, **measures(r)})
    for r in data["top_calls"].to_dict("records"):
        rows.append({"section": "top_call", "key": r["call_id"], "cost_usd": r["cost_usd"],
                     "requests": r["requests"], "rows": 1,
                     "unknown_cost_rows": int(pd.isna(r["cost_usd"])),
                     "detail": f"{r['ts']} {r['model']} {r['task'] or ''}".strip()})
    for r in data["budgets"].to_dict("records"):
        level = "" if pd.isna(r["level"]) else f"{int(r['level'])}%"
        unknown = int(r.get("unknown_cost_rows") or 0)
        rows.append({"section": "budget", "key": f"{r['period']} {r['task'] or '(overall)'}",
                     "cost_usd": r["spent_usd"], "unknown_cost_rows": unknown,
                     "detail": f"budget ${r['amount_usd']:,.2f} since {r['since']}, alert {level or 'none'}"})
    # unknown_cost_rows is last: columns are only ever added at the end (automation reads them)
    frame = pd.DataFrame(rows, columns=["section", "key", "cost_usd", "requests", "rows",
                                        "cost_per_1k_requests", "detail", "unknown_cost_rows"])
    for col in ("requests", "rows", "unknown_cost_rows"):
        frame[col] = frame[col].astype("Int64")  # counts stay whole numbers next to blank cells
    write_csv(frame, out)


# -- XLSX: one sheet per view ----------------------------------------------------------------
def _xlsx(data: dict, out: Path) -> None:
    views = _views(data)
    summary = pd.DataFrame({"line": _summary_lines(data)})
    write_xlsx({"Summary": summary, **views}, out)


# -- HTML: self-contained, charts inlined ----------------------------------------------------
def _blank_float(column: str, value: float) -> str:
    """A missing number in a table: an unknown cost says so; anything else stays blank."""
    return "unknown" if column in ("cost_usd", "spent_usd") else ""



def _table_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for col, v in zip(frame.columns, row):
            if isinstance(v, float):
                text = _blank_float(col, v) if pd.isna(v) else f"{v:,.6g}"
            else:
                text = "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html(data: dict, out: Path) -> None:
    from core.spend.charts import share_bar, stacked_by_day

    views = _views(data)
    figs = [stacked_by_day(data["by_day_model"], "model", "Spend per day by model")]
    if not data["by_task"].empty:
        figs.append(share_bar(data["by_task"], "task", "cost_usd", "Spend by task", fmt="$,.2f"))
    # The first chart carries plotly.js inline (include_plotlyjs=True): the file opens offline.
    charts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figs)]
    lines = _summary_lines(data)
    parts = [f"<h1>{html.escape(lines[0])}</h1>", "<ul>"]
    parts += [f"<li>{html.escape(line)}</li>" for line in lines[1:]] + ["</ul>"]
    parts += [f"<div class='chart'>{c}</div>" for c in charts]
    for name, frame in views.items():
        parts.append(f"<h2>{html.escape(name)}</h2>" + _table_html(frame))
    doc = ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
           f"<title>{html.escape(lines[0])}</title><style>"
           "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;"
           "margin-bottom:18px;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;"
           "text-align:right}th{background:#f2f2f2}td:first-child{text-align:left}"
           "</style></head><body>" + "".join(parts) + "</body></html>")
    out.write_text(doc, encoding="utf-8")


# -- PDF: fpdf2 + matplotlib -----------------------------------------------------------------
HEADINGS = {  # what a reader of the PDF sees above each column
    "model": "Model", "task": "Task", "provider": "Provider", "service_tier": "Service tier",
    "ts": "Time (UTC)", "period": "Period", "level": "Alert", "cost_usd": "Spend",
    "requests": "Requests", "cost_per_1k_requests": "Per 1,000 requests",
    "request_share": "Share of requests", "unknown_cost_rows": "Rows of unknown cost",
    "amount_usd": "Budget", "spent_usd": "Spent",
}
_MONEY = {"cost_usd", "cost_per_1k_requests", "amount_usd", "spent_usd"}
_SHARES = {"request_share", "cost_share"}


def pdf_cell(column: str, value) -> str:
    """A table cell of the PDF report: dollars with separators, shares as percentages, counts
    as whole numbers.

    >>> pdf_cell("cost_usd", 1234.5), pdf_cell("request_share", 0.4), pdf_cell("requests", 12000.0)
    ('$1,234.50', '40.0%', '12,000')
    >>> pdf_cell("cost_usd", float("nan")), pdf_cell("ts", pd.Timestamp("2026-03-01 09:05"))
    ('unknown', '2026-03-01 09:05')
    """
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return _blank_float(column, float("nan"))
    if isinstance(value, str):
        return value
    if column in _MONEY:
        return money(float(value))
    if column in _SHARES:
        return f"{float(value):.1%}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.4f}"


def _pdf_table(pdf, frame: pd.DataFrame, columns: list[str], widths: list[float], limit: int = 30) -> None:
    pdf.set_font("Helvetica", "B", 8)
    for col, w in zip(columns, widths):
        pdf.cell(w, 5, pdf_text(HEADINGS.get(col, col)), border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 8)
    for row in frame[columns].head(limit).itertuples(index=False, name=None):
        for col, v, w in zip(columns, row, widths):
            pdf.cell(w, 5, pdf_text(pdf_cell(col, v))[:int(w / 1.6)], border=1)
        pdf.ln()
    pdf.ln(3)


def _pdf(data: dict, out: Path) -> None:
    from fpdf import FPDF

    from core.spend.charts import png_stacked_by_day

    views = _views(data)
    lines = _summary_lines(data)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, pdf_text(lines[0]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for line in lines[1:]:
        pdf.multi_cell(0, 6, pdf_text(line), new_x="LMARGIN", new_y="NEXT")  # long lines wrap
    pdf.ln(2)
    import io

    png = png_stacked_by_day(data["by_day_model"], "model", "Spend per day by model")
    pdf.image(io.BytesIO(png), w=185)
    pdf.ln(2)
    for name, cols, widths in (
        ("By model", ["model", "cost_usd", "requests", "cost_per_1k_requests", "request_share"],
         [70, 30, 25, 35, 25]),
        ("By task", ["task", "cost_usd", "requests", "cost_per_1k_requests"], [70, 30, 25, 35]),
        ("By provider", ["provider", "cost_usd", "requests", "cost_per_1k_requests"], [70, 30, 25, 35]),
        ("By service tier", ["service_tier", "cost_usd", "unknown_cost_rows", "requests"], [70, 30, 35, 25]),
        ("Top calls", ["ts", "model", "task", "cost_usd", "requests"], [35, 60, 40, 30, 20]),
        ("Budgets", ["task", "period", "amount_usd", "spent_usd", "level"], [50, 25, 30, 30, 20]),
    ):
        frame = views[name]
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, pdf_text(name), new_x="LMARGIN", new_y="NEXT")
        if frame.empty:
            pdf.set_font("Helvetica", "", 9)
            pdf.cell(0, 5, "none", new_x="LMARGIN", new_y="NEXT")
            continue
        _pdf_table(pdf, frame, cols, widths)
    pdf.output(str(out))
