"""The one-page decision memo of an experiment, as self-contained HTML or as a PDF.

Both render the same content, built once by :func:`memo_content` from an experiment record
(``{"name", "kind", "definition", "results", "created_at"}``: what :func:`core.experiments.store.
load_experiment` returns, or the same built from a fresh result)::

    >>> html = memo_html(record)          # doctest: +SKIP
    >>> pdf = memo_pdf(record)            # bytes, one A4 page  # doctest: +SKIP

The HTML has inline CSS and no external resource; every value is escaped.
"""
from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.exports import pdf_text, signed_text

BADGE = {"go": "#1a7f37", "no-go": "#cf222e", "inconclusive": "#9a6700"}


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class MemoContent:
    title: str
    verdict: str
    reason: str
    facts: list[tuple[str, str]]
    tables: list[Table] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Quality difference (candidate - control) with its interval: label, diff, low, high.
    chart: list[tuple[str, float, float, float]] = field(default_factory=list)
    tolerance: float | None = None


# -- formatting --------------------------------------------------------------------------------
def _f(x, spec: str = ".3f", none: str = "n/a") -> str:
    return none if x is None else signed_text(x, spec) if spec.startswith("+") else format(x, spec)


def _usd(x) -> str:
    if x is None:
        return "n/a"
    return f"${x:,.6f}" if abs(x) < 0.01 else f"${x:,.4f}" if abs(x) < 100 else f"${x:,.0f}"


def _ci(est: dict, spec: str = ".3f", money: bool = False) -> str:
    if not est or est.get("value") is None:
        return "n/a"
    fmt = _usd if money else (lambda v: _f(v, spec))
    if est.get("low") is None:
        return fmt(est["value"])
    return f"{fmt(est['value'])} [{fmt(est['low'])}, {fmt(est['high'])}]"


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _p(x) -> str:
    return "n/a" if x is None else ("<0.001" if x < 0.001 else f"{x:.3f}")


def _diff_row(label: str, d: dict, money: bool = False, spec: str = "+.3f") -> list[str]:
    fmt = (lambda v: "n/a" if v is None else f"{'+' if v >= 0 else '-'}{_usd(abs(v))}") if money \
        else (lambda v: _f(v, spec))
    base = (lambda v: _usd(v)) if money else (lambda v: _f(v, spec.lstrip("+")))
    return [label, base(d.get("control")), base(d.get("candidate")), fmt(d.get("diff")),
            f"[{fmt(d.get('low'))}, {fmt(d.get('high'))}]", _p(d.get("p_value")), d.get("test", "")]


def _guardrail_rows(checks: list[dict]) -> list[list[str]]:
    return [[g["name"], "FIRED" if g["fired"] else ("ok" if g["evaluated"] else "not evaluated"),
             _f(g.get("observed"), ".4g"), _f(g.get("threshold"), ".4g"), g.get("rule", "")]
            for g in checks]


# -- content -----------------------------------------------------------------------------------
def memo_content(record: dict) -> MemoContent:
    d, r = record["definition"], record["results"]
    when = str(record.get("created_at") or datetime.now(UTC).strftime("%Y-%m-%d %H:%M"))[:16]
    facts = [
        ("Eval set", f"{d.get('evalset')} ({d.get('n_items'):,} items)"
         + (" - synthetic demo data" if d.get("synthetic") else "")),
        ("Control (A, production)", d.get("control_label", "")),
        ("Candidate (B)", d.get("candidate_label", "")),
    ]
    if record["kind"] == "ab":
        facts += [("Traffic split", f"{d.get('split', 0.5):.0%} to candidate, by {d.get('unit_column')}"),
                  ("Tolerance (non-inferiority margin)", _f(d.get("tolerance"), "g")),
                  ("Alpha / power", f"{d.get('alpha', 0.05):g} / {d.get('power', 0.8):.0%}")]
    else:
        facts += [("Design", "shadow: both policies on every item, paired comparison"),
                  ("Tolerance (non-inferiority margin)", _f(d.get("tolerance"), "g"))]
    facts += [("Costs", f"{d.get('cost_source') or 'unknown'}; price snapshot "
                        f"{d.get('price_snapshot') or 'not available'}"),
              ("Memo date", when)]
    verdict = r.get("verdict", {}) or {}
    content = MemoContent(f"Decision memo: {record['name']}", verdict.get("decision", "n/a"),
                          verdict.get("reason", ""), facts, tolerance=d.get("tolerance"))
    if record["kind"] == "ab":
        _ab_tables(content, r)
    else:
        _shadow_tables(content, r)
    return content


def _ab_tables(c: MemoContent, r: dict) -> None:
    arms = r["arms"]
    rows = []
    for key, label in (("control", "A control"), ("candidate", "B candidate")):
        a = arms[key]
        lat = a["latency"]
        rows.append([label, f"{a['n_items']:,}", _ci(a["quality"]), _ci(a["cost_per_item"], money=True),
                     _ci(a["error_rate"], ".3f"),
                     " / ".join(_f(lat.get(p), ".0f") for p in ("p50", "p95", "p99"))])
    c.tables.append(Table("Per arm (95% intervals)",
                          ["arm", "items", "quality", "cost / item", "error rate", "latency p50/p95/p99 ms"],
                          rows))
    diffs = r["differences"]
    for stage in r.get("rollout") or []:
        if stage["quality_low"] is not None:
            c.chart.append((f"stage {stage['stage_pct']}%", stage["quality_diff"], stage["quality_low"],
                            stage["quality_high"]))
    q = diffs["quality"]
    if q.get("low") is not None and not r.get("rollout"):
        c.chart.append(("all", q["diff"], q["low"], q["high"]))
    c.tables.append(Table("Differences (candidate - control)",
                          ["metric", "control", "candidate", "diff", "95% CI", "p", "test"],
                          [_diff_row("quality", diffs["quality"]),
                           _diff_row("cost / item", diffs["cost_per_item"], money=True),
                           _diff_row("error rate", diffs["error_rate"]),
                           _diff_row("latency mean (ms)", diffs["latency_mean"], spec="+.0f"),
                           _diff_row("latency p95 (ms)", diffs["latency_p95"], spec="+.0f")]))
    s = r.get("sample_size")
    if s:
        c.tables.append(Table(
            "Sample size", ["detect", "alpha", "power", "needed A / B", "have A / B", "enough"],
            [[_f(s["mde"], "g"), _f(s["alpha"], "g"), f"{s['power']:.0%}",
              f"{s['required_control']:,} / {s['required_candidate']:,}",
              f"{s['have_control']:,} / {s['have_candidate']:,}", "yes" if s["enough"] else "NO"]]))
    decided = r.get("decided_by") or {}
    at = f" at the {decided['stage_pct']}% stage, which decides" if decided else ""
    c.tables.append(Table(f"Guardrails{at} (fire when strictly above the threshold)",
                          ["rule", "state", "observed", "threshold", "definition"],
                          _guardrail_rows(r["guardrails"]),
                          note=decided.get("explanation", "")))
    if r.get("rollout"):
        c.tables.append(Table(
            "Staged rollout (each stage: the first k% of units by hash)",
            ["stage", "items A / B", "quality diff [95% CI]", "verdict", "action", "trigger", "reached"],
            [[f"{s['stage_pct']}%", f"{s['n_control']} / {s['n_candidate']}",
              f"{_f(s['quality_diff'], '+.3f')} [{_f(s['quality_low'], '+.3f')}, {_f(s['quality_high'], '+.3f')}]",
              s["verdict"], s["action"], s["trigger"] or "-", "yes" if s["reached"] else "no"]
             for s in r["rollout"]], note=decided.get("rule", "")))
    tasks = r.get("per_task") or []
    c.tables.append(Table(
        "Per task", ["task", "items A / B", "quality A", "quality B", "diff", "cost/item A", "cost/item B"],
        [[str(t["task"]), f"{t['n_control']} / {t['n_candidate']}", _f(t["quality_control"]),
          _f(t["quality_candidate"]), _f(t["quality_diff"], "+.3f"), _usd(t["cost_per_item_control"]),
          _usd(t["cost_per_item_candidate"])] for t in tasks[:15]],
        note=f"{len(tasks) - 15} more tasks not shown" if len(tasks) > 15 else ""))
    c.warnings = list(r.get("warnings") or [])


def _shadow_tables(c: MemoContent, r: dict) -> None:
    ag = r["agreement"]
    c.tables.append(Table("Agreement", ["items", "compared", "agree", "agreement rate [95% CI]", "disagreeing"],
                          [[f"{r['n_items']:,}", f"{r['n_compared']:,}", f"{r['n_agree']:,}", _ci(ag),
                            f"{r['n_disagreements']:,}"]]))
    c.tables.append(Table("Paired differences (candidate - production)",
                          ["metric", "production", "candidate", "diff", "95% CI", "p", "test"],
                          [_diff_row("quality", r["quality"]),
                           _diff_row("cost / item", r["cost"], money=True),
                           _diff_row("latency mean (ms)", r["latency"], spec="+.0f")]))
    q = r["quality"]
    if q.get("low") is not None:
        c.chart.append(("paired", q["diff"], q["low"], q["high"]))
    proj = r.get("projection") or {}
    if proj:
        c.tables.append(Table(
            "Projected monthly spend if the candidate took over",
            ["requests / month", "production", "candidate", "savings [95% CI]", "share"],
            [[f"{proj['volume_per_month']:,.0f}", _usd(proj["monthly_cost_production"]),
              _usd(proj["monthly_cost_candidate"]),
              f"{_usd(proj['monthly_savings'])} [{_usd(proj['monthly_savings_low'])}, "
              f"{_usd(proj['monthly_savings_high'])}]", _pct(proj.get("savings_share"))]]))
    c.tables.append(Table("Guardrails (fire when strictly above the threshold)",
                          ["rule", "state", "observed", "threshold", "definition"],
                          _guardrail_rows(r.get("guardrails") or [])))
    tasks = r.get("per_task") or []
    c.tables.append(Table(
        "Per task", ["task", "items", "agreement", "quality prod", "quality cand", "diff"],
        [[str(t["task"]), f"{t['n']:,}", _pct(t["agreement"]), _f(t["quality_production"]),
          _f(t["quality_candidate"]), _f(t["quality_diff"], "+.3f")] for t in tasks[:15]]))
    dis = r.get("disagreements") or []
    c.tables.append(Table(
        "Disagreeing items (first 8)", ["item", "production answer", "candidate answer", "scores P / C"],
        [[str(x["item_id"]), _short(x.get("production_answer")), _short(x.get("candidate_answer")),
          f"{_f(x.get('production_score'), '.0f')} / {_f(x.get('candidate_score'), '.0f')}"]
         for x in dis[:8]]))


def _short(text, n: int = 40) -> str:
    t = " ".join(str(text).split()) if text is not None else "-"
    return t if len(t) <= n else t[: n - 3] + "..."


# -- HTML --------------------------------------------------------------------------------------
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:960px;
color:#1f2328;font-size:13px}
h1{font-size:20px;margin:0 0 8px}h2{font-size:14px;margin:16px 0 4px}
.badge{display:inline-block;padding:4px 12px;border-radius:12px;color:#fff;font-weight:700;
text-transform:uppercase;letter-spacing:.05em}
.reason{margin:8px 0 12px}
table{border-collapse:collapse;width:100%;margin:2px 0 4px}
td,th{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.facts td:first-child{width:28%;color:#57606a}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;margin:6px 0;border-radius:6px}
.note{color:#57606a;font-size:11px}
"""


def memo_html(record: dict) -> str:
    """Self-contained HTML (inline CSS, no scripts, no external resources)."""
    return render_html(memo_content(record))


def render_html(c: MemoContent) -> str:
    """The memo of any content (a replay's, or a live experiment's) as HTML."""
    e = html.escape
    color = BADGE.get(c.verdict, "#57606a")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(c.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(c.title)}</h1>",
        f"<div><span class='badge' style='background:{color}'>Verdict: {e(c.verdict)}</span></div>",
        f"<p class='reason'>{e(c.reason)}</p>",
        "<table class='facts'>" + "".join(f"<tr><td>{e(k)}</td><td>{e(str(v))}</td></tr>" for k, v in c.facts)
        + "</table>",
    ]
    parts += [f"<div class='warn'>{e(w)}</div>" for w in c.warnings]
    for t in c.tables:
        parts.append(f"<h2>{e(t.title)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in t.header)
                     + "</tr>" + "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>"
                                         for row in t.rows) + "</table>")
        if t.note:
            parts.append(f"<div class='note'>{e(t.note)}</div>")
    parts.append("<p class='note'>Generated by Tradeoff. Intervals are 95%; differences are "
                 "candidate minus control.</p></body></html>")
    return "".join(parts)


# -- PDF ---------------------------------------------------------------------------------------
def _chart_png(points: list[tuple[str, float, float, float]], tolerance: float | None) -> bytes | None:
    """Quality difference with its interval, the zero line and the non-inferiority margin."""
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.2, 0.6 + 0.28 * len(points)), dpi=150)
    labels = [p[0] for p in points]
    vals = [p[1] for p in points]
    err = [[p[1] - p[2] for p in points], [p[3] - p[1] for p in points]]
    ax.axvline(0, color="#57606a", lw=0.8)
    if tolerance:
        ax.axvline(-tolerance, color="#cf222e", lw=0.8, ls="--", label="-tolerance")
        ax.legend(fontsize=6, loc="lower right", frameon=False)
    ax.errorbar(vals, range(len(points)), xerr=err, fmt="o", color="#0969da", capsize=3)
    ax.set_yticks(range(len(points)), labels, fontsize=7)
    ax.set_ylim(-0.6, len(points) - 0.4)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title("Quality difference, candidate - control (95% CI)", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def memo_pdf(record: dict, chart: bool = True) -> bytes:
    """One A4 page with the same content as the HTML memo."""
    return render_pdf(memo_content(record), chart)


def render_pdf(c: MemoContent, chart: bool = True) -> bytes:
    """The memo of any content as one A4 page."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=8)
    pdf.set_margins(10, 8, 10)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 7, pdf_text(c.title), new_x="LMARGIN", new_y="NEXT")
    r, g, b = (int(BADGE.get(c.verdict, "#57606a")[i:i + 2], 16) for i in (1, 3, 5))
    pdf.set_fill_color(r, g, b)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(50, 6, pdf_text(f"VERDICT: {c.verdict.upper()}"), fill=True, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)  # tables fill with the current colour: not the badge's
    pdf.set_font("Helvetica", "", 7.5)
    pdf.multi_cell(0, 3.6, pdf_text(c.reason), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    png = _chart_png(c.chart, c.tolerance) if chart else None
    top = pdf.get_y()
    width = 128 if png else 0
    with pdf.table(col_widths=(38, 90), width=width or None, align="LEFT", line_height=3.4,
                   first_row_as_headings=False, padding=0.6, text_align="LEFT") as table:
        for k, v in c.facts:
            row = table.row()
            row.cell(pdf_text(k))
            row.cell(pdf_text(v))
    if png:
        after = pdf.get_y()
        pdf.image(io.BytesIO(png), x=142, y=top, w=58)
        pdf.set_y(max(after, top + 24))
    for w in c.warnings:
        pdf.set_text_color(154, 103, 0)
        pdf.multi_cell(0, 3.4, pdf_text("Warning: " + w), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    heading = FontFace(emphasis="BOLD", fill_color=(246, 248, 250))
    for t in c.tables:
        if not t.rows:
            continue
        pdf.ln(1)
        pdf.set_font("Helvetica", "B", 8.5)
        pdf.cell(0, 4.5, pdf_text(t.title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 6.8)
        with pdf.table(line_height=3.2, padding=0.5, headings_style=heading,
                       text_align="LEFT") as table:
            row = table.row()
            for h in t.header:
                row.cell(pdf_text(h))
            for values in t.rows:
                row = table.row()
                for v in values:
                    row.cell(pdf_text(v))
        if t.note:
            pdf.cell(0, 3.5, pdf_text(t.note), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
