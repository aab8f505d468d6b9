"""Transaction logs in, validated, as a DuckDB view.

A transaction log is one row per purchase: a customer id, a date (or timestamp), an amount (or
none: a count-only log), plus any extra columns kept for covariates. :func:`read_transactions`
reads CSV or Parquet files (or a pandas DataFrame) through DuckDB, so files larger than memory are
scanned, not loaded. Every problem found is raised as a :class:`~clvlib.errors.CLVDataError` that
names the file, the column and the first offending rows; what is dropped or adjusted on the way
(future-dated rows, returns, duplicates, a detected delimiter) is counted in the log's notes.

The rules, shared with the Spark reader (:mod:`clvlib.spark`), which words them the same way:

- timestamps with a UTC offset are converted to UTC; a purchase's day is its UTC day;
- rows dated after ``data_end`` (default: today, in UTC) are dropped, counted in the notes and
  warned about, so a mistyped year (2099) never becomes the end of the data;
- amounts must be finite and at most :data:`MAX_AMOUNT` in absolute value;
- a CSV file's delimiter is detected unless given, and a delimiter other than a comma is noted;
- a file that is not text (a spreadsheet, an archive, UTF-16 text) is refused in one sentence.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from clvlib.config import BUNDLED_DATA_DIR
from clvlib.datasets import DATASETS, get_dataset, load_dataset
from clvlib.errors import CLVDataError, describe_rows

ReturnsPolicy = Literal["error", "drop", "net"]
DuplicatesPolicy = Literal["keep", "drop", "error"]

RETURNS_POLICIES = ("error", "drop", "net")
DUPLICATES_POLICIES = ("keep", "drop", "error")
ROWS_NOTE = "row numbers count data rows from 1; a header line is not counted"

# The largest amount accepted, in absolute value: no purchase comes near it in any currency, and
# beyond it sums lose their cents (a double holds about 16 digits) and a few amounts near the
# double's limit add up to infinity (1e308 + 1e308), so mean spend would be lost.
MAX_AMOUNT = 1e15

# The delimiters a CSV file is sniffed for (the Spark reader; DuckDB's sniffer tries the same).
CSV_DELIMITERS = (",", ";", "\t", "|")

# The report's parameter-file keys for read_transactions' arguments: pass as option_names=, so
# that an error met while a report runs names the key a user sets (amount_column), not the
# Python argument (amount=).
REPORT_OPTION_NAMES = {
    "customer_id": "customer_id_column",
    "date": "date_column",
    "amount": "amount_column",
    "date_format": "date_format",
    "returns": "returns",
    "duplicates": "duplicates",
    "data_end": "data_end",
}


@dataclass
class TransactionLog:
    """A validated transaction log, held as the DuckDB view ``transactions``.

    The view has the columns ``customer_id`` (text), ``timestamp`` (UTC), ``amount`` (float;
    absent from a count-only log) and any extra columns asked for, under their own names. It
    selects from the view ``keyed``, the same rows plus ``customer_key`` (an integer id as read,
    else the id), which summaries group by. Build one with :func:`read_transactions`.

    Attributes
    ----------
    con : duckdb.DuckDBPyConnection
        The connection that holds the view.
    source : str
        The file (or a name for an in-memory table) the log came from.
    files : list of Path
        The files read, for provenance hashes; empty for a DataFrame.
    extra_columns : tuple of str
        Extra columns kept alongside the required ones.
    notes : list of str
        What validation found and how the rules and policies handled it (a detected delimiter,
        future-dated rows, returns, duplicates, a log without amounts).
    has_amounts : bool
        False for a count-only log (read with ``amount=None``): no ``amount`` column, and
        summaries have no spend columns.
    """

    con: duckdb.DuckDBPyConnection
    source: str
    files: list[Path]
    extra_columns: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    has_amounts: bool = True

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run SQL against the log (the view is called ``transactions``) and return a DataFrame."""
        return self.con.execute(sql, params or []).df()

    def overview(self) -> dict:
        """Counts and ranges of the log: rows, customers, first and last date, total amount.

        ``total_amount`` is None for a count-only log.
        """
        total = "sum(amount)" if self.has_amounts else "NULL"
        row = self.con.execute(
            f"""
            SELECT count(*), count(DISTINCT customer_id), min(timestamp)::DATE,
                   max(timestamp)::DATE, {total}
            FROM transactions
            """
        ).fetchall()[0]
        keys = ("rows", "customers", "first_date", "last_date", "total_amount")
        out = dict(zip(keys, row, strict=True))
        out["first_date"] = pd.Timestamp(out["first_date"])
        out["last_date"] = pd.Timestamp(out["last_date"])
        return out

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The first and last day in the log (one scan, no per-customer work)."""
        first, last = self.con.execute(
            "SELECT min(timestamp)::DATE, max(timestamp)::DATE FROM transactions"
        ).fetchall()[0]
        return pd.Timestamp(first), pd.Timestamp(last)

    def rows_after(self, day: pd.Timestamp) -> int:
        """How many rows fall after ``day`` (0 without a scan when ``day`` is the last day)."""
        if day >= self.date_range()[1]:
            return 0
        return self.con.execute(
            "SELECT count(*) FROM transactions WHERE timestamp::DATE > ?", [day.date()]
        ).fetchall()[0][0]

    def to_pandas(self) -> pd.DataFrame:
        """The whole log as a DataFrame (for small logs; large ones should stay in DuckDB)."""
        return self.query("SELECT * FROM transactions ORDER BY ALL")  # deterministic, ties too

    def __str__(self) -> str:
        o = self.overview()
        text = (
            f"TransactionLog from {self.source}: {o['rows']:,} rows, {o['customers']:,} customers, "
            f"{o['first_date']:%Y-%m-%d} to {o['last_date']:%Y-%m-%d}"
        )
        return "\n".join([text, *("  note: " + n for n in self.notes)])


def read_transactions(
    source: str | Path | pd.DataFrame,
    *,
    customer_id: str = "customer_id",
    date: str = "date",
    amount: str | None = "amount",
    extra_columns: tuple[str, ...] | list[str] = (),
    date_format: str | None = None,
    returns: ReturnsPolicy = "error",
    duplicates: DuplicatesPolicy = "keep",
    data_end: str | pd.Timestamp | None = None,
    csv_options: dict | None = None,
    name: str | None = None,
    option_names: Mapping[str, str] | None = None,
) -> TransactionLog:
    """Read and validate a transaction log.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        A CSV file, a Parquet file (``.parquet``/``.pq``), a glob of Parquet files, a DataFrame,
        or the name of a bundled transaction data set (``"cdnow_sample"``, ``"cdnow_master"``),
        whose own columns are then used.
    customer_id, date : str
        The names of the customer-id and date (or timestamp) columns in ``source``. A
        timestamp with a UTC offset (``2024-01-31T23:30:00-02:00``) is converted to UTC, and a
        purchase's day is its day in UTC.
    amount : str or None
        The name of the amount column; None for a count-only log (customer id and date only):
        its summaries have no spend columns, so purchase models work and spend models do not.
    extra_columns : sequence of str
        Further columns to keep (for covariates), under their own names.
    date_format : str, optional
        A ``strptime`` format such as ``"%Y%m%d"``; by default dates must be ISO 8601 text or
        already typed as dates.
    returns : {"error", "drop", "net"}
        What a negative amount means. ``"error"`` (default) refuses it. ``"drop"`` removes
        returns from the log. ``"net"`` keeps them: they lower the spend of their day, and a
        day with only returns (negative amounts) is not counted as a purchase. Every choice is
        recorded in :attr:`TransactionLog.notes`.
    duplicates : {"keep", "drop", "error"}
        What to do with rows identical in every kept column. ``"keep"`` (default) keeps them:
        same-day rows are merged into one purchase anyway, so only spend is affected, and two
        identical orders on one day are plausible. ``"drop"`` keeps one of each; ``"error"``
        refuses the file. The number found is always recorded in :attr:`TransactionLog.notes`
        and warned about.
    data_end : date-like, optional
        The last day the data can cover; default today (in UTC). Rows dated later are dropped,
        counted in :attr:`TransactionLog.notes` with the latest such date, and warned about:
        a future date is a typing error, and it must not become the end of the data.
    csv_options : dict, optional
        Extra keyword arguments for DuckDB's ``read_csv`` (``sep``, ``header``, ...). Without
        ``sep`` the delimiter is detected, and one other than a comma is said in the notes.
    name : str, optional
        How to name a DataFrame source in messages.
    option_names : mapping, optional
        How error messages name the arguments, e.g. :data:`REPORT_OPTION_NAMES` (the report's
        parameter-file keys: ``amount_column`` for ``amount``). Default: as Python arguments.

    Returns
    -------
    TransactionLog

    Raises
    ------
    CLVDataError
        On a file that is not a CSV or Parquet table, a missing column, an empty log, a missing
        customer id, an unparsable date, a non-numeric, missing or too large amount (above
        :data:`MAX_AMOUNT`), a negative amount (unless ``returns`` allows it), duplicate rows
        (with ``duplicates="error"``), or when every row is dated after ``data_end``.

    Examples
    --------
    >>> log = read_transactions("sales.csv", customer_id="cust", date="day", amount="value")
    ... # doctest: +SKIP
    >>> visits = read_transactions("visits.csv", amount=None)  # a count-only log
    ... # doctest: +SKIP
    """
    if returns not in RETURNS_POLICIES:
        raise ValueError(f"returns={returns!r}; choose one of {RETURNS_POLICIES}")
    if duplicates not in DUPLICATES_POLICIES:
        raise ValueError(f"duplicates={duplicates!r}; choose one of {DUPLICATES_POLICIES}")
    say = Wording(option_names)
    end, stated = resolve_data_end(data_end)
    extra = tuple(extra_columns)
    dataset_files: list[Path] = []
    if isinstance(source, str) and source in DATASETS:
        dataset = get_dataset(source)
        if not dataset.is_transaction_log:
            raise ValueError(f"data set {source!r} is not a transaction log")
        name, dataset_files = f"{source} ({_display_path(dataset.path)})", [dataset.path]
        source = load_dataset(source)
    con = duckdb.connect()
    # Timestamps with a zone are read as UTC, so a purchase's day is the same on every machine.
    con.execute("SET TimeZone = 'UTC'")
    label, files, notes = _register_raw(con, source, csv_options or {}, name)
    files = files or dataset_files
    required = {"customer_id": customer_id, "date": date, "amount": amount}
    present = [r[0] for r in con.execute("DESCRIBE raw_input").fetchall()]
    check_columns(label, present, required, extra, say)

    typed = _typed_select(con, customer_id, date, amount, extra, date_format)
    con.execute(f"CREATE VIEW typed AS {typed}")
    log = TransactionLog(con=con, source=label, files=files, extra_columns=extra, notes=notes,
                         has_amounts=amount is not None)
    tallies = _check_values(log, customer_id, date, amount, date_format, returns, end, say)
    if _column_type(con, date) == "VARCHAR" and not date_format:
        _note_offsets(log)
    _apply_policies(log, returns, duplicates, amount, end, stated, tallies)
    return log


def _note_offsets(log: TransactionLog) -> None:
    """Note the UTC offsets of a text date column (:func:`offset_note`)."""
    text = "trim(CAST(raw_date AS VARCHAR))"
    rows = log.con.execute(
        f"""SELECT regexp_extract({text}, '{OFFSET_PATTERN}', 1) AS offset_text, count(*),
                   count(*) FILTER (WHERE TRY_CAST(left({text}, 10) AS DATE)
                                    <> CAST(timestamp AS DATE))
            FROM typed WHERE timestamp IS NOT NULL GROUP BY offset_text"""
    ).fetchall()
    note = offset_note({k: n for k, n, _ in rows}, sum(m for k, _, m in rows if k))
    if note:
        log.notes.append(note)


def _display_path(path: Path) -> str:
    """A bundled data set as ``data/raw/<file>`` (machine-neutral); any other path as given."""
    try:
        return str(Path("data/raw") / path.resolve().relative_to(BUNDLED_DATA_DIR))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# Wording shared by the DuckDB and Spark readers
# ---------------------------------------------------------------------------------------------


class Wording:
    """How messages name the reader's arguments: as Python arguments or as report keys.

    Parameters
    ----------
    option_names : mapping, optional
        Argument name -> the name a user sets (:data:`REPORT_OPTION_NAMES`); None for Python.
    """

    def __init__(self, option_names: Mapping[str, str] | None = None):
        self.names = None if option_names is None else dict(option_names)

    def key(self, argument: str) -> str:
        """The name of an argument as the user sets it."""
        return argument if self.names is None else self.names.get(argument, argument)

    def column(self, role: str, column: str) -> str:
        """``column 'total'``, or ``column 'total' (amount_column)`` for a report."""
        text = f"column {column!r}"
        return text if self.names is None else f"{text} ({self.key(role)})"

    def setting(self, argument: str, value: str) -> str:
        """``returns='drop'``, or ``returns: drop`` for a report."""
        if self.names is None:
            return f"{argument}={value!r}"
        return f"{self.key(argument)}: {value}"

    @property
    def verb(self) -> str:
        return "Pass" if self.names is None else "Set"

    def map_columns(self) -> str:
        if self.names is None:
            return "Map yours with customer_id=, date=, amount=."
        keys = ", ".join(self.key(a) for a in ("customer_id", "date", "amount"))
        return f"Name yours in the parameters {keys}."


def check_columns(label: str, present: list[str], required: Mapping[str, str | None],
                  extra: tuple[str, ...], say: Wording | None = None) -> None:
    """Refuse a table that lacks a required or extra column, listing the columns it has.

    ``required`` maps a role (customer_id, date, amount) to its column; None skips the role.
    """
    say = say or Wording()

    def role_text(role: str) -> str:
        return f"the {role} column" + ("" if say.names is None else f", {say.key(role)}")

    missing = [f"{col!r} ({role_text(role)})" for role, col in required.items()
               if col is not None and col not in present]
    missing += [f"{col!r} (an extra column)" for col in extra if col not in present]
    if missing:
        raise CLVDataError(
            f"{label}: missing column(s) {', '.join(missing)}; the file has columns: "
            f"{', '.join(map(repr, present))}. {say.map_columns()}"
        )


def value_check_messages(customer_id: str, date: str, amount: str | None,
                         date_format: str | None, returns: str,
                         say: Wording | None = None) -> dict[str, str]:
    """What each value check of the readers says, by key, in the order they are checked.

    Keys: ``customer_id``, ``date_missing``, ``date``, and with an amount column
    ``amount_missing``, ``amount`` (not finite), ``amount_huge`` (above :data:`MAX_AMOUNT`) and,
    when ``returns="error"``, ``negative``. Each engine supplies its own conditions.
    """
    say = say or Wording()
    fmt = (f" with format {date_format!r}" if date_format else
           f" (expected ISO 8601, e.g. 2024-01-31, or {say.verb.lower()} "
           f"{say.key('date_format')}{'=' if say.names is None else ''})")
    out = {
        "customer_id": f"{say.column('customer_id', customer_id)}: missing customer ids",
        "date_missing": f"{say.column('date', date)}: missing dates",
        "date": f"{say.column('date', date)}: dates that cannot be parsed{fmt}",
    }
    if amount is None:
        return out
    column = say.column("amount", amount)
    out["amount_missing"] = f"{column}: missing amounts"
    out["amount"] = f"{column}: amounts that are not finite numbers"
    out["amount_huge"] = (
        f"{column}: amounts above {MAX_AMOUNT:.0e} in absolute value (too large to sum "
        "without losing the cents or overflowing; check the column and its units)"
    )
    if returns == "error":
        out["negative"] = (
            f"{column}: negative amounts (returns). {say.verb} {say.setting('returns', 'drop')} "
            f"to remove them or {say.setting('returns', 'net')} to net them against the same "
            "day's purchases"
        )
    return out


def resolve_data_end(data_end) -> tuple[pd.Timestamp, bool]:
    """``(day, stated)``: the given ``data_end`` as a day, or today in UTC (``stated`` False)."""
    if data_end is None:
        return pd.Timestamp.now(tz="UTC").tz_localize(None).normalize(), False
    try:
        return pd.Timestamp(data_end).normalize(), True
    except (ValueError, TypeError) as err:
        raise ValueError(f"data_end={data_end!r} is not a date") from err


def future_rows(log, n_future: int, n_rows: int, latest, data_end: pd.Timestamp,
                stated: bool) -> None:
    """Note and warn about ``n_future`` rows dated after ``data_end`` (they are dropped).

    Shared by the DuckDB and the Spark readers, so both say the same words.

    Raises
    ------
    CLVDataError
        When every row is dated after ``data_end``.
    """
    if not n_future:
        return
    when = (f"data_end {data_end:%Y-%m-%d}" if stated
            else f"today ({data_end:%Y-%m-%d}, UTC)")
    latest = pd.Timestamp(latest)
    if n_future == n_rows:
        raise CLVDataError(
            f"{log.source}: every row ({n_rows:,}) is dated after {when}; the latest is dated "
            f"{latest:%Y-%m-%d}. Check the dates (and data_end)."
        )
    note = (f"{n_future:,} row(s) dated after {when} dropped; the latest is dated "
            f"{latest:%Y-%m-%d}")
    log.notes.append(note)
    # stacklevel 4: this helper, the policy step, the reader, then the user's call.
    warnings.warn(f"{log.source}: {note}", stacklevel=4)


#: A UTC offset at the end of a timestamp's text: "Z", "+05:00", "-0200".
OFFSET_PATTERN = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"


def offset_note(offsets: dict[str, int], moved: int) -> str | None:
    """The note of timestamps read with UTC offsets (None when no row has one).

    Shared by the DuckDB and the Spark readers, so both say the same words.

    Parameters
    ----------
    offsets : dict of str to int
        Rows per offset text found at the end of the date column (``""`` for none).
    moved : int
        Rows whose day in UTC differs from the local date written in the text.
    """
    found = {k: v for k, v in offsets.items() if k}
    if not found:
        return None
    listed = ", ".join(f"{k} on {v:,} row{'s' if v != 1 else ''}"
                       for k, v in sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))
    plain = offsets.get("", 0)
    text = (f"timestamps carry UTC offsets ({listed}"
            + (f"; {plain:,} row{'s' if plain != 1 else ''} without" if plain else "")
            + "): each was converted to UTC, and a purchase's day is its day in UTC")
    if moved:
        text += (f", so {moved:,} row{'s' if moved != 1 else ''} fall on another day than the "
                 "local date written")
    return text


def delimiter_note(delimiter: str) -> str:
    """The note of a CSV file read with a detected delimiter other than a comma."""
    return f"the file was read with the delimiter {delimiter!r}, detected from the file"


def note_returns(log, returns: str, n_returns: int, amount: str) -> None:
    """Record in ``log.notes`` what the returns policy did to ``n_returns`` negative rows.

    Shared by the DuckDB and the Spark readers, so both say the same words.
    """
    if not n_returns:
        return
    if returns == "drop":
        log.notes.append(f"{n_returns:,} return row(s) (negative {amount!r}) dropped")
    elif returns == "net":
        log.notes.append(
            f"{n_returns:,} return row(s) (negative {amount!r}) netted against same-day purchases"
        )


def note_duplicates(log, n_extra: int, duplicates: str, examples) -> None:
    """Apply the duplicates policy's message: raise for ``"error"``, else note and warn.

    ``examples()`` gives the heading and rows shown in the error; it is called only then.
    Shared by the DuckDB and the Spark readers, so both say the same words.

    Raises
    ------
    CLVDataError
        When ``duplicates="error"``.
    """
    if duplicates == "error":
        raise CLVDataError(
            f"{log.source}: {n_extra:,} duplicate row(s) (identical in every kept column); "
            f"{examples()}\n"
            "Pass duplicates='keep' or duplicates='drop' to choose a policy."
        )
    verb = "kept (duplicates='keep')" if duplicates == "keep" else "dropped (duplicates='drop')"
    note = f"{n_extra:,} duplicate row(s), identical in every kept column, {verb}"
    log.notes.append(note)
    # stacklevel 4: this helper, the policy step, the reader, then the user's call.
    warnings.warn(f"{log.source}: {note}", stacklevel=4)


# ---------------------------------------------------------------------------------------------
# Files that are not tables
# ---------------------------------------------------------------------------------------------

PARQUET_SUFFIXES = {".parquet", ".pq"}

# Leading bytes of files people mistake for a transaction table, and what each one is.
MAGIC_BYTES = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Excel (.xls) or other Office file"),
    (b"%PDF", "a PDF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x1f\x8b", "gzip-compressed (name it .csv.gz to read it)"),
    (b"\xff\xfe", "UTF-16 text (save it as UTF-8)"),
    (b"\xfe\xff", "UTF-16 text (save it as UTF-8)"),
)


def not_a_table(path: Path) -> str | None:
    """One sentence saying why ``path`` is not a CSV or Parquet table, or None if it may be.

    Looks at the first 4 KiB only: the magic bytes of spreadsheets, archives, PDFs and
    databases, UTF-16 byte-order marks, NUL bytes in a text file, and a Parquet suffix on a
    file that is not Parquet (or the other way round).
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        if head.startswith(b"PAR1"):
            return None
        return (f"{path}: this is not a Parquet file (it does not start with the Parquet "
                "magic bytes PAR1); save it as Parquet or as a CSV file with a .csv suffix.")
    if head.startswith(b"PAR1"):
        return f"{path}: this is a Parquet file; give it the suffix .parquet to read it."
    if suffix in {".gz", ".zst"}:
        return None  # compressed text: DuckDB decompresses it by its suffix
    what = next((kind for magic, kind in MAGIC_BYTES if head.startswith(magic)), None)
    if what is None and b"\x00" in head:
        what = "a binary file (it holds NUL bytes)"
    if what is None:
        return None
    return (f"{path}: this is {what}, not a CSV or Parquet transaction table; save it as CSV "
            "(UTF-8 text) or Parquet.")


def _engine_error(path: str, err: Exception) -> str:
    """A reader's error in one or two lines, without the engine's dump."""
    text = str(err)
    if "not utf-8 encoded" in text.lower():
        return f"{path}: this file is not UTF-8 text; save it as UTF-8 (CSV) or Parquet."
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = " ".join(lines[:2]).removeprefix("Invalid Input Error: ")
    return f"{path}: could not be read as a transaction table: {first}"


# ---------------------------------------------------------------------------------------------
# The DuckDB reader
# ---------------------------------------------------------------------------------------------


def _register_raw(
    con: duckdb.DuckDBPyConnection, source, csv_options: dict, name: str | None
) -> tuple[str, list[Path], list[str]]:
    """Create the view ``raw_input`` over the source; return its label, files and notes."""
    if isinstance(source, pd.DataFrame):
        if len(source) == 0:
            raise CLVDataError(f"{name or 'DataFrame'}: the transaction log is empty (no rows)")
        con.register("raw_frame", source.reset_index(drop=True))
        con.execute("CREATE VIEW raw_input AS SELECT * FROM raw_frame")
        return name or "DataFrame", [], []

    path = Path(source)
    text = str(path)
    is_glob = any(ch in text for ch in "*?[")
    files = sorted(path.parent.glob(path.name)) if is_glob else [path]
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"{text}: no such transaction file")
    if all(f.stat().st_size == 0 for f in files):
        raise CLVDataError(f"{text}: the file is empty")
    for f in files:
        problem = not_a_table(f)
        if problem:
            raise CLVDataError(problem)
    notes = []
    try:
        if files[0].suffix.lower() in PARQUET_SUFFIXES:
            literal = "'" + text.replace("'", "''") + "'"  # views cannot take parameters
            con.execute(f"CREATE VIEW raw_input AS SELECT * FROM read_parquet({literal})")
        else:
            options = {"all_varchar": True, "header": True, **csv_options}
            if not {"delim", "sep", "delimiter"} & set(options):
                options["sep"] = _sniff_delimiter(con, files[0])
                if options["sep"] != ",":
                    notes.append(delimiter_note(options["sep"]))
            rel = con.read_csv(text, **options)
            con.register("raw_csv", rel)
            con.execute("CREATE VIEW raw_input AS SELECT * FROM raw_csv")
        n = con.execute("SELECT count(*) FROM raw_input").fetchall()[0][0]
    except duckdb.Error as err:
        raise CLVDataError(_engine_error(text, err)) from err
    if n == 0:
        raise CLVDataError(f"{text}: the transaction log is empty (a header but no rows)")
    return text, files, notes


def _sniff_delimiter(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """The delimiter DuckDB's CSV sniffer finds in ``path`` (a comma if it finds none)."""
    literal = "'" + str(path).replace("'", "''") + "'"
    try:
        found = con.execute(f"SELECT Delimiter FROM sniff_csv({literal})").fetchall()[0][0]
    except duckdb.Error:
        return ","  # the read itself then says what is wrong
    return found if found in CSV_DELIMITERS else ","


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parsed_date_sql(con, date: str, date_format: str | None) -> str:
    """The date column as a UTC TIMESTAMP: text with an offset is converted to UTC."""
    col = _ident(date)
    kind = _column_type(con, date)
    if kind.startswith(("DATE", "TIMESTAMP")):
        return f"CAST({col} AS TIMESTAMP)"  # a zoned timestamp becomes UTC (TimeZone is UTC)
    if date_format:
        fmt = "'" + date_format.replace("'", "''") + "'"
        return f"CAST(try_strptime(trim(CAST({col} AS VARCHAR)), {fmt}) AS TIMESTAMP)"
    return f"CAST(TRY_CAST(trim(CAST({col} AS VARCHAR)) AS TIMESTAMPTZ) AS TIMESTAMP)"


# DuckDB's integer column types: an id of one of these has a text without spaces, one per value.
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                 "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT")


def _column_type(con, column: str, view: str = "raw_input") -> str:
    return con.execute(
        f"SELECT column_type FROM (DESCRIBE {view}) WHERE column_name = ?", [column]
    ).fetchall()[0][0]


def _typed_select(con, customer_id, date, amount, extra, date_format) -> str:
    customer = f"CAST({_ident(customer_id)} AS VARCHAR)"
    if _column_type(con, customer_id) not in INTEGER_TYPES:  # an integer's text has no spaces
        customer = f"trim({customer})"
    items = [f"{customer} AS customer_id",
             f"{_parsed_date_sql(con, date, date_format)} AS timestamp"]
    if amount is not None:
        items.append(f"TRY_CAST({_ident(amount)} AS DOUBLE) AS amount")
    items += [_ident(c) for c in extra]
    items += [f"{_ident(customer_id)} AS raw_customer_id", f"{_ident(date)} AS raw_date"]
    if amount is not None:
        items.append(f"{_ident(amount)} AS raw_amount")
    return f"SELECT {', '.join(items)} FROM raw_input"


def _check_values(log: TransactionLog, customer_id, date, amount, date_format, returns,
                  data_end: pd.Timestamp, say: Wording) -> dict:
    """Count each kind of bad value in one scan; on a hit, fetch the first offending rows.

    The same scan tallies what the policies need: rows, rows dated after ``data_end`` (and the
    latest of their days), and returns among the rest. Returns those tallies.
    """
    end = f"DATE '{data_end:%Y-%m-%d}'"
    tallies = {
        "rows": "count(*)",
        "future": f"count(*) FILTER (WHERE timestamp::DATE > {end})",
        "latest": f"max(timestamp::DATE) FILTER (WHERE timestamp::DATE > {end})",
    }
    if amount is not None:
        tallies["returns"] = f"count(*) FILTER (WHERE amount < 0 AND timestamp::DATE <= {end})"
    conditions = {
        "customer_id": "customer_id IS NULL OR customer_id = ''",
        "date_missing": "raw_date IS NULL",
        "date": "raw_date IS NOT NULL AND timestamp IS NULL",
        "amount_missing": "raw_amount IS NULL",
        "amount": "raw_amount IS NOT NULL AND (amount IS NULL OR isnan(amount) OR isinf(amount))",
        "amount_huge": f"isfinite(amount) AND abs(amount) > {MAX_AMOUNT!r}",
        "negative": "amount < 0",
    }
    messages = value_check_messages(customer_id, date, amount, date_format, returns, say)
    checks = {key: (conditions[key], message) for key, message in messages.items()}
    row = log.con.execute(
        "SELECT " + ", ".join([*(f"count(*) FILTER (WHERE {cond})" for cond, _ in
                                 checks.values()), *tallies.values()])
        + " FROM typed"
    ).fetchall()[0]
    counts = row[:len(checks)]
    shown = [f"raw_customer_id AS {_ident(customer_id)}", f"raw_date AS {_ident(date)}"]
    if amount is not None:
        shown.append(f"raw_amount AS {_ident(amount)}")
    for (cond, message), n in zip(checks.values(), counts, strict=True):
        if n:
            rows = log.con.execute(
                f"""
                SELECT row, {", ".join(shown)}
                FROM (SELECT row_number() OVER () AS row, * FROM typed)
                WHERE {cond} ORDER BY row LIMIT 5
                """
            ).df()
            raise CLVDataError(
                f"{log.source}: {message}: {n:,} row(s); the first ({ROWS_NOTE}):\n"
                + describe_rows(rows)
            )
    return dict(zip(tallies, row[len(checks):], strict=True))


def _apply_policies(log: TransactionLog, returns: str, duplicates: str, amount: str | None,
                    data_end: pd.Timestamp, stated: bool, tallies: dict) -> None:
    con = log.con
    amount_col = ["amount"] if log.has_amounts else []
    cols = ["customer_id", "timestamp", *amount_col, *map(_ident, log.extra_columns)]
    select = ", ".join(cols)
    end = f"DATE '{data_end:%Y-%m-%d}'"
    future_rows(log, tallies["future"], tallies["rows"], tallies["latest"], data_end, stated)
    if tallies["future"]:
        con.execute(f"CREATE VIEW dated AS SELECT * FROM typed WHERE timestamp::DATE <= {end}")
    else:  # nothing to drop: no filter for the engine to evaluate
        con.execute("CREATE VIEW dated AS SELECT * FROM typed")
    if log.has_amounts:
        note_returns(log, returns, tallies["returns"], amount)
    else:
        log.notes.append(COUNT_ONLY_NOTE)
    where = "WHERE amount >= 0" if log.has_amounts and returns == "drop" else ""
    kept = f"timestamp::DATE <= {end}" + (" AND amount >= 0" if where else "")

    # The customer's key: one-to-one with the kept id and cheaper to hash and group by. An
    # integer's text is one-to-one with the integer, so the raw integer id stands for its text
    # (hashing the text was half the duplicate test's time on 100 million rows, grouping by it
    # 30 s against 17 s); a text id is its own key, trimmed as kept.
    integer_ids = _column_type(con, "raw_customer_id", "typed") in INTEGER_TYPES
    key = "raw_customer_id" if integer_ids else "customer_id"
    n_extra = _duplicate_count(con, select, ", ".join([key, *cols[1:]]), where)
    if n_extra:

        def examples() -> str:
            rows = con.execute(
                f"""
                SELECT row, {select} FROM (
                    SELECT row, {select}, count(*) OVER (PARTITION BY {select}) AS n
                    FROM (SELECT row_number() OVER () AS row, * FROM typed) WHERE {kept})
                WHERE n > 1 ORDER BY row LIMIT 5
                """
            ).df()
            return f"the first ({ROWS_NOTE}):\n{describe_rows(rows)}"

        note_duplicates(log, n_extra, duplicates, examples)
    distinct = "DISTINCT " if n_extra and duplicates == "drop" else ""
    # ``keyed`` adds the key as ``customer_key``; the summary groups by it (clvlib.summary.DUCKDB).
    con.execute(f"CREATE VIEW keyed AS SELECT {distinct}{select}, {key} AS customer_key "
                f"FROM dated {where}")
    con.execute(f"CREATE VIEW transactions AS SELECT {select} FROM keyed")


COUNT_ONLY_NOTE = ("no amount column (a count-only log): purchases are counted, spend is not, "
                   "so there is no spend model and no value in money")


def _duplicate_count(con, select: str, hashed: str, where: str) -> int:
    """How many rows repeat an earlier row in every kept column (``select``).

    First the distinct 64-bit hashes of ``hashed`` (the kept columns, the id as its key) are
    counted, cheaper than DISTINCT over the columns: if every row has its own hash there is no
    duplicate, exactly. Only when hashes repeat are
    the rows themselves compared, so a hash collision cannot miscount.
    """
    total, hashes = con.execute(
        f"SELECT count(*), count(DISTINCT hash({hashed})) FROM dated {where}"
    ).fetchall()[0]
    if hashes == total:
        return 0
    distinct = con.execute(
        f"SELECT count(*) FROM (SELECT DISTINCT {select} FROM dated {where})"
    ).fetchall()[0][0]
    return total - distinct
