"""Spreadsheet-safe exports: no exported cell can ever run as a formula.

A text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed
with a single quote (OWASP's CSV-injection advice), in CSV and in XLSX alike; numbers, dates and
booleans stay typed values, and so does text that is a plain number (a label ``"-1"``: a
spreadsheet reads it as the number, it cannot run), so ``-0.5`` is untouched while ``"-2+3"``
or ``"-cmd"`` are neutralized::

    >>> safe_cell("=HYPERLINK(\\"http://x\\")"), safe_cell("-cmd"), safe_cell(-0.5), safe_cell("ok")
    ('\\'=HYPERLINK("http://x")', "'-cmd", -0.5, 'ok')
    >>> safe_cell("-1"), safe_cell("+0.25"), safe_cell("-2+3"), safe_cell("-1e5")
    ('-1', '+0.25', "'-2+3", '-1e5')

Everything that leaves the product as a CSV or XLSX file is written here: :func:`csv_bytes`
(downloads), :func:`write_csv`, :func:`write_xlsx`; a test keeps every other writer out of
``core``, ``ui`` and ``app_pages``.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value):
    """The value, with text that a spreadsheet would evaluate prefixed by ``'``."""
    if (isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES)
            and not _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def _plain(value):
    """Python scalars for writers (numpy/pandas scalars and missing values converted)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value


def safe_rows(frame: pd.DataFrame) -> list[list]:
    """Rows of ``frame`` as plain, guarded Python values."""
    return [[safe_cell(_plain(v)) for v in row] for row in frame.itertuples(index=False, name=None)]


def _write_rows(fh, frame: pd.DataFrame) -> None:
    writer = csv.writer(fh)
    writer.writerow([safe_cell(str(c)) for c in frame.columns])
    writer.writerows(safe_rows(frame))


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """CSV with every text cell guarded (the header too)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        _write_rows(fh, frame)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The same CSV as :func:`write_csv`, as bytes for a download button.

    >>> csv_bytes(pd.DataFrame({"model": ["=cmd()", "gpt"], "cost": [0.5, np.nan]}))
    b"model,cost\\r\\n'=cmd(),0.5\\r\\ngpt,\\r\\n"
    """
    buffer = io.StringIO(newline="")
    _write_rows(buffer, frame)
    return buffer.getvalue().encode("utf-8")


def write_xlsx(sheets: dict[str, pd.DataFrame], path: str | Path,
               notes: dict[str, list[str]] | None = None) -> None:
    """One worksheet per frame; guarded text, typed numbers and dates, a bold header row.

    ``notes[sheet]`` lines are written above the table (e.g. totals and the price snapshot).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, frame in sheets.items():
        ws = wb.create_sheet(title=_sheet_title(name))
        for line in (notes or {}).get(name, []):
            ws.append([safe_cell(line)])
        if (notes or {}).get(name):
            ws.append([])
        ws.append([safe_cell(str(c)) for c in frame.columns])
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
        for row in safe_rows(frame):
            ws.append(row)
        for i, col in enumerate(frame.columns, 1):
            width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(200)]) + 2
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(width, 48)
    wb.save(path)


def _sheet_title(name: str) -> str:
    bad = '[]:*?/\\'
    return "".join("_" if ch in bad else ch for ch in name)[:31] or "Sheet"


def json_safe(obj):
    """Strict JSON values: NaN/inf -> None, numpy scalars -> Python, timestamps -> ISO text.

    >>> json_safe({"q": float("nan"), "n": np.int64(3), "ok": np.bool_(True), "xs": (1.5, np.inf)})
    {'q': None, 'n': 3, 'ok': True, 'xs': [1.5, None]}
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (pd.Timestamp, dt.datetime, dt.date)):
        return obj.isoformat()
    return obj


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """A frame as JSON-safe records (NaN -> None, numpy scalars -> Python).

    >>> frame_records(pd.DataFrame({"a": [1.5, np.nan], "b": ["x", None]}))
    [{'a': 1.5, 'b': 'x'}, {'a': None, 'b': None}]
    """
    return json_safe(frame.astype(object).where(frame.notna(), None).to_dict("records"))


_PDF_REPLACEMENTS = str.maketrans({"\u2192": "->", "\u2013": "-", "\u2014": "-", "\u2265": ">=",
                                   "\u2264": "<=", "\u00d7": "x", "\u2212": "-", "\u2026": "...",
                                   "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                                   "\u00b7": "-", "\u2248": "~"})


def pdf_text(text) -> str:
    """Text the PDF core fonts (Latin-1) can draw: common symbols spelled out, the rest '?'.

    >>> pdf_text("A → B ≥ 2 × 3 — ok ✓")
    'A -> B >= 2 x 3 - ok ?'
    """
    return str(text).translate(_PDF_REPLACEMENTS).encode("latin-1", "replace").decode("latin-1")


def signed_text(value: float, spec: str = "+.3f") -> str:
    """A difference with its sign, but never a sign on a zero: ``-0.000`` reads as a loss that
    is not there.

    >>> signed_text(-0.0004), signed_text(-0.0126), signed_text(0.0), signed_text(-1e-9, "+.6f")
    ('0.000', '-0.013', '0.000', '0.000000')
    """
    text = format(value, spec)
    if not any(ch in "123456789" for ch in text.split("e")[0]):
        return text.lstrip("+-")
    return text
