"""Reading a CSV file as text, strictly, with every structural problem named by row.

DuckDB parses the file (fast, RFC 4180 quoting, every cell as text: types are checked later with
row numbers); when it refuses the file, Python's csv module diagnoses it row by row, so the user
sees which rows are broken and why::

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "evals.csv"
    >>> _ = path.write_text("item_id,model,score\\n1,a,1\\n2,a,0,9\\n")
    >>> read_text_table(path, "evals.csv")
    Traceback (most recent call last):
    core.errors.InputError: evals.csv: malformed CSV; nothing was stored (1 problem):
      - evals.csv, row 2: expected 3 fields, as in the header, got '4 fields'
"""
from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import duckdb
import pyarrow as pa

from core.errors import InputError, Problem

MAX_PROBLEMS = 1000  # a file with more bad rows than this is reported by its first 1000
MAX_ROW_BYTES = 2_097_152  # DuckDB's max_line_size: a longer row is refused by the reader
# DuckDB's CSV reader costs more per column the more columns a file has (3,000 columns: ~2 s,
# 30,000: ~110 s on a shared machine); files wider than this are read by Arrow's reader, whose
# cost per column is constant (bench.bench_wide).
WIDE_COLUMNS = 1000


def scratch_db() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for parsing; no progress bar (it would print into the CLI's output)."""
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    return con


DELIMITERS = (",", ";", "\t", "|")  # in order of preference
SNIFF_ROWS = 50  # data rows read to confirm a delimiter


DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes ('|')"}


def sniff_delimiter(head: bytes, label: str = "the file") -> str:
    r"""The delimiter of a CSV file, from its header and first rows (``head``: its first bytes).

    The first of ``,`` ``;`` tab ``|`` that splits the header into several columns and every
    sampled row into as many fields (quotes respected) wins; when none does, the first that
    splits the header (the reader then names the ragged rows); a one-column header means ``,``.
    A header split by one delimiter over rows that are all split by another (and not by the
    header's) is a file saved two ways: refused, naming both.

    >>> sniff_delimiter(b"item_id|model|score\ni1|a|1\n"), sniff_delimiter(b"a;b\n1,5;2\n")
    ('|', ';')
    >>> sniff_delimiter(b'M,M|model_response\n1,"x|y"\n')   # wide headers hold '|'
    ','
    >>> sniff_delimiter(b"item_id|model|score\ni1,a,1\n", "f.csv")
    Traceback (most recent call last):
    core.errors.InputError: f.csv: the header is separated by pipes ('|') but the rows below it by commas; save the file with one delimiter (commas, semicolons, tabs or pipes)
    """
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    if len(head) >= (1 << 16) and "\n" in text:
        text = text[:text.rindex("\n")]  # the last line may be cut off
    splits_header, widths = [], {}
    for delim in DELIMITERS:
        reader = csv.reader(io.StringIO(text), delimiter=delim, quotechar='"')
        try:
            rows = [r for r in itertools.islice(reader, SNIFF_ROWS + 1) if r]
        except csv.Error:
            continue
        widths[delim] = [len(r) for r in rows]
        if not rows or len(rows[0]) < 2:
            continue
        splits_header.append(delim)
        if all(len(r) == len(rows[0]) for r in rows[1:]):
            return delim
    if not splits_header:
        return ","
    header = splits_header[0]
    rows = widths[header][1:]
    other = next((d for d, w in widths.items() if d != header and len(w) > 1 and w[1] > 1
                  and len(set(w[1:])) == 1 and all(n == 1 for n in rows)), None)
    if other is not None:
        raise InputError(f"{label}: the header is separated by {DELIMITER_NAMES[header]} but the "
                         f"rows below it by {DELIMITER_NAMES[other]}; save the file with one "
                         "delimiter (commas, semicolons, tabs or pipes)")
    return header


def sniff_text(path: Path, label: str) -> str:
    """Refuse what is not UTF-8 text (a spreadsheet, UTF-16, binary data, a NUL byte in a
    value, named by row and column) and pick the delimiter (:func:`sniff_delimiter`).

    Shared by every CSV reader of the product (eval sets, usage imports).
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    kind = ("a spreadsheet or zip archive" if head.startswith(b"PK\x03\x04") else
            "UTF-16 text" if head[:2] in (b"\xff\xfe", b"\xfe\xff")
            or (len(head) > 8 and head.count(b"\x00") * 4 >= len(head)) else
            "binary data" if b"\x00" in head and not _mostly_text(head) else None)
    if kind is not None:
        hint = "; save it as CSV UTF-8" if kind != "binary data" else ""
        raise InputError(f"{label}: not a CSV text file (it looks like {kind}{hint}); expected "
                         "comma-separated UTF-8 text with a header row")
    delim = sniff_delimiter(head, label)
    if _has_nul(path):  # a stray NUL byte inside a value: name where
        raise InputError(f"{label}: malformed CSV; nothing was stored", diagnose(path, label, delim))
    return delim


def _mostly_text(head: bytes) -> bool:
    text = head.replace(b"\x00", b"").decode("utf-8", "replace")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * max(1, len(text))


def _has_nul(path: Path) -> bool:
    with open(path, "rb") as fh:
        return any(b"\x00" in block for block in iter(lambda: fh.read(1 << 20), b""))


def refuse(path: Path, label: str, delim: str, failure: str | None) -> InputError:
    """The error for a file a reader refused: every bad row (:func:`diagnose`), else the
    reader's own reason in one line (never the offending text, which may be megabytes)."""
    problems = diagnose(path, label, delim)
    if problems:
        return InputError(f"{label}: malformed CSV; nothing was stored", problems)
    detail = ("no consistent rows and columns found" if failure and "sniffing" in failure
              else (failure or "unreadable").split("\n")[0].replace(str(path), label)[:200])
    return InputError(f"{label}: not a readable CSV file ({detail}); expected comma-separated "
                      "UTF-8 text with a header row")


def read_text_table(path: Path, label: str, delim: str = ",") -> pa.Table:
    """Read every cell as text (types are checked afterwards, with row numbers).

    DuckDB parses the file strictly (RFC 4180 quoting); when it refuses, the file is diagnosed
    with Python's csv module, which names each bad row by its data-row number.
    """
    if len(header_fields(path, delim)) > WIDE_COLUMNS:
        return _read_wide(path, label, delim)
    con = scratch_db()
    failure = None
    rejects: list = []
    try:
        table = con.execute(
            "select * from read_csv(?, all_varchar=true, header=true, store_rejects=true,"
            " strict_mode=true, sample_size=-1, null_padding=false, delim=?, quote='\"',"
            " escape='\"', auto_detect=true)",
            [str(path), delim],
        ).to_arrow_table()  # see read_typed_table: an executed query, fetched whole
        rejects = con.sql(
            "select line, column_name, error_type, error_message from reject_errors order by line"
        ).fetchall()
    except duckdb.Error as exc:
        failure = str(exc).split("\n")[0].replace(str(path), label)
    finally:
        con.close()
    if failure is None and not rejects:
        return table
    if rejects and diagnose(path, label, delim) == []:
        raise InputError(f"{label}: malformed CSV; nothing was stored", [
            Problem(label, int(line) - 1, col, "a well-formed CSV row", f"{etype.lower()}: {emsg}")
            for line, col, etype, emsg in rejects[:MAX_PROBLEMS]])
    raise refuse(path, label, delim, failure)


def read_typed_table(path: Path, delim: str, types: dict[str, str]) -> pa.Table | None:
    r"""Read the file once with DuckDB's typed reader: ``types`` names every column of the header,
    in order (e.g. ``{"item_id": "VARCHAR", "score": "DOUBLE"}``), and numbers are parsed as they
    are read (no text pass, no second scan).

    Returns None when the reader refuses the file in any way (a cell that is not its column's
    type, ragged rows, bad quoting, invalid UTF-8): :func:`read_text_table` then reads it as
    text, and the caller names every problem by row, as for any file read as text.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "evals.csv"
    >>> _ = path.write_text('item_id,score\n1,0.5\n2,1\n"3\n4",\n')
    >>> read_typed_table(path, ",", {"item_id": "VARCHAR", "score": "DOUBLE"}).to_pydict()
    {'item_id': ['1', '2', '3\n4'], 'score': [0.5, 1.0, None]}
    >>> _ = path.write_text('item_id,score\n1,0.5\n2,high\n')
    >>> read_typed_table(path, ",", {"item_id": "VARCHAR", "score": "DOUBLE"}) is None
    True
    """
    con = scratch_db()
    try:
        # Executed and fetched whole: a relation's .arrow() / .to_arrow_table() (DuckDB 1.5)
        # streams the result in small batches, single-threaded, at 5-10x the reader's cost.
        return con.execute(
            "select * from read_csv(?, columns=?, header=true, auto_detect=false, delim=?,"
            " quote='\"', escape='\"', strict_mode=true, null_padding=false)",
            [str(path), types, delim]).to_arrow_table()
    except duckdb.Error:
        return None
    finally:
        con.close()


def _read_wide(path: Path, label: str, delim: str) -> pa.Table:
    """A file of many columns, every cell as text, read by Arrow (linear in the columns); a
    file it refuses is diagnosed row by row like any other."""
    import pyarrow.csv as pacsv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        header = next(csv.reader(fh, delimiter=delim), [])  # as Arrow names them (unstripped)
    failure = "a quoted field is never closed"
    if _quotes_balanced(path):  # Arrow reads an unclosed quote to the end of the file
        try:
            return pacsv.read_csv(
                path, read_options=pacsv.ReadOptions(block_size=1 << 24),
                parse_options=pacsv.ParseOptions(delimiter=delim, quote_char='"',
                                                 double_quote=True, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in header}, strings_can_be_null=True,
                    null_values=[""]))
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            failure = str(exc).split("\n")[0]
    raise refuse(path, label, delim, failure)


def _quotes_balanced(path: Path) -> bool:
    """Every quoted field closed: RFC 4180 quoting always uses quote characters in pairs."""
    count = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            count += block.count(b'"')
    return count % 2 == 0


def diagnose(path: Path, label: str, delim: str) -> list[Problem]:
    """Every row that breaks the CSV structure: bytes that are not UTF-8 (with the encoding to
    save it in), NUL bytes, wrong field counts, bad quoting, rows longer than the reader's
    limit. Row = data row (the header is row 0: named as the header).

    Only runs when a fast reader refused the file, so a plain Python pass is affordable.
    """
    problems: list[Problem] = []
    header = header_fields(path, delim)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            nul = raw.find(b"\x00")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                bad = raw[err.start:err.end]
                problems.append(Problem(label, lineno - 1 if lineno > 1 else None,
                                        _column_at(raw, err.start, header, delim, lineno),
                                        "UTF-8 text (the file looks saved as Latin-1 or "
                                        "Windows-1252: save it as CSV UTF-8)",
                                        f"byte {bad.hex(' ')} in {_context(raw, err.start, err.end)}"))
            else:
                if nul >= 0:
                    problems.append(Problem(label, lineno - 1 if lineno > 1 else None,
                                            _column_at(raw, nul, header, delim, lineno),
                                            "text without NUL bytes (\\x00)",
                                            f"a NUL byte in {_context(raw, nul, nul + 1)}"))
            if len(problems) >= MAX_PROBLEMS:
                return problems
    if problems:
        return problems
    csv.field_size_limit(1 << 30)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delim, quotechar='"', doublequote=True, strict=True)
        try:
            header = next(reader)
        except (csv.Error, StopIteration) as err:
            return [Problem(label, None, None, "a header row of column names", str(err))]
        width = len(header)
        row = 0
        while True:
            start_line = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as err:
                problems.append(Problem(
                    label, row + 1, None,
                    f"properly quoted fields (a field opened with \" must close with \"; "
                    f"the row starts on line {start_line} of the file)", str(err)))
                break  # past a broken quote the parser cannot tell where rows start
            if not record:
                continue  # blank line: skipped by the reader too
            row += 1
            size = sum(len(f.encode("utf-8")) for f in record) + len(record)
            if size > MAX_ROW_BYTES:
                longest = max(range(len(record)), key=lambda k: len(record[k]))
                problems.append(Problem(
                    label, row, header[longest].strip() if longest < len(header) else None,
                    f"a row under {MAX_ROW_BYTES / 2**20:.0f} MB (the CSV reader's limit per row)",
                    f"{size / 2**20:.1f} MB, {len(record[longest]):,} characters in this column"))
            if len(record) != width:
                # Too few fields: name the first column left empty; too many: no column has it.
                column = header[len(record)].strip() if len(record) < width else None
                problems.append(Problem(label, row, column, f"{width} fields, as in the header",
                                        f"{len(record)} fields"))
            if len(problems) >= MAX_PROBLEMS:
                break
    return problems


def _column_at(raw: bytes, pos: int, header: list[str], delim: str, lineno: int) -> str | None:
    """The header name of the field holding byte ``pos`` of a physical line (not the header)."""
    idx = raw[:pos].count(delim.encode())  # fields before the position
    return header[idx] if lineno > 1 and idx < len(header) else None


def _context(raw: bytes, start: int, end: int) -> str:
    return repr(raw[max(0, start - 12):end + 12].decode("utf-8", "replace").strip())


def header_fields(path: Path, delim: str) -> list[str]:
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        return [c.strip().lstrip("\ufeff") for c in next(csv.reader(fh, delimiter=delim), [])]
