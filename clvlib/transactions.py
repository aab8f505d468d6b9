"""Transaction logs in, validated, as a DuckDB view.

A transaction log is one row per purchase: a customer id, a date (or timestamp) and an amount,
plus any extra columns kept for covariates. :func:`read_transactions` reads CSV or Parquet files
(or a pandas DataFrame) through DuckDB, so files larger than memory are scanned, not loaded.
Every problem found is raised as a :class:`~clvlib.errors.CLVDataError` that names the file,
the column and the first offending rows.
"""

from __future__ import annotations

import warnings
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


@dataclass
class TransactionLog:
    """A validated transaction log, held as the DuckDB view ``transactions``.

    The view has the columns ``customer_id`` (text), ``timestamp``, ``amount`` (float) and any
    extra columns asked for, under their own names. Build one with :func:`read_transactions`.

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
        What validation found and how the policies handled it (duplicates, returns).
    """

    con: duckdb.DuckDBPyConnection
    source: str
    files: list[Path]
    extra_columns: tuple[str, ...]
    notes: list[str] = field(default_factory=list)

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run SQL against the log (the view is called ``transactions``) and return a DataFrame."""
        return self.con.execute(sql, params or []).df()

    def overview(self) -> dict:
        """Counts and ranges of the log: rows, customers, first and last date, total amount."""
        row = self.con.execute(
            """
            SELECT count(*), count(DISTINCT customer_id), min(timestamp)::DATE,
                   max(timestamp)::DATE, sum(amount)
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
    amount: str = "amount",
    extra_columns: tuple[str, ...] | list[str] = (),
    date_format: str | None = None,
    returns: ReturnsPolicy = "error",
    duplicates: DuplicatesPolicy = "keep",
    csv_options: dict | None = None,
    name: str | None = None,
) -> TransactionLog:
    """Read and validate a transaction log.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        A CSV file, a Parquet file (``.parquet``/``.pq``), a glob of Parquet files, a DataFrame,
        or the name of a bundled transaction data set (``"cdnow_sample"``, ``"cdnow_master"``),
        whose own columns are then used.
    customer_id, date, amount : str
        The names of the customer-id, date (or timestamp) and amount columns in ``source``.
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
    csv_options : dict, optional
        Extra keyword arguments for DuckDB's ``read_csv`` (``delim``, ``header``, ...).
    name : str, optional
        How to name a DataFrame source in messages.

    Returns
    -------
    TransactionLog

    Raises
    ------
    CLVDataError
        On a missing column, an empty log, a missing customer id, an unparsable date, a
        non-numeric or missing amount, a negative amount (unless ``returns`` allows it) or
        duplicate rows (with ``duplicates="error"``).

    Examples
    --------
    >>> log = read_transactions("sales.csv", customer_id="cust", date="day", amount="value")
    ... # doctest: +SKIP
    """
    if returns not in RETURNS_POLICIES:
        raise ValueError(f"returns={returns!r}; choose one of {RETURNS_POLICIES}")
    if duplicates not in DUPLICATES_POLICIES:
        raise ValueError(f"duplicates={duplicates!r}; choose one of {DUPLICATES_POLICIES}")
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
    label, files = _register_raw(con, source, csv_options or {}, name)
    files = files or dataset_files
    _check_columns(con, label, {"customer_id": customer_id, "date": date, "amount": amount}, extra)

    typed = _typed_select(con, customer_id, date, amount, extra, date_format)
    con.execute(f"CREATE VIEW typed AS {typed}")
    log = TransactionLog(con=con, source=label, files=files, extra_columns=extra)
    _check_values(log, customer_id, date, amount, date_format, returns)
    _apply_policies(log, returns, duplicates, amount)
    return log


def _display_path(path: Path) -> str:
    """A bundled data set as ``data/raw/<file>`` (machine-neutral); any other path as given."""
    try:
        return str(Path("data/raw") / path.resolve().relative_to(BUNDLED_DATA_DIR))
    except ValueError:
        return str(path)


def _register_raw(
    con: duckdb.DuckDBPyConnection, source, csv_options: dict, name: str | None
) -> tuple[str, list[Path]]:
    """Create the view ``raw_input`` over the source; return its label and files."""
    if isinstance(source, pd.DataFrame):
        if len(source) == 0:
            raise CLVDataError(f"{name or 'DataFrame'}: the transaction log is empty (no rows)")
        con.register("raw_frame", source.reset_index(drop=True))
        con.execute("CREATE VIEW raw_input AS SELECT * FROM raw_frame")
        return name or "DataFrame", []

    path = Path(source)
    text = str(path)
    is_glob = any(ch in text for ch in "*?[")
    files = sorted(path.parent.glob(path.name)) if is_glob else [path]
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"{text}: no such transaction file")
    if all(f.stat().st_size == 0 for f in files):
        raise CLVDataError(f"{text}: the file is empty")
    suffix = files[0].suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            literal = "'" + text.replace("'", "''") + "'"  # views cannot take parameters
            con.execute(f"CREATE VIEW raw_input AS SELECT * FROM read_parquet({literal})")
        else:
            options = {"all_varchar": True, "header": True, **csv_options}
            rel = con.read_csv(text, **options)
            con.register("raw_csv", rel)
            con.execute("CREATE VIEW raw_input AS SELECT * FROM raw_csv")
        n = con.execute("SELECT count(*) FROM raw_input").fetchall()[0][0]
    except duckdb.Error as err:
        raise CLVDataError(f"{text}: could not be read as a transaction table: {err}") from err
    if n == 0:
        raise CLVDataError(f"{text}: the transaction log is empty (a header but no rows)")
    return text, files


def _check_columns(con, label: str, required: dict[str, str], extra: tuple[str, ...]) -> None:
    present = [r[0] for r in con.execute("DESCRIBE raw_input").fetchall()]
    missing = [
        f"{col!r} (the {role} column)" for role, col in required.items() if col not in present
    ]
    missing += [f"{col!r} (an extra column)" for col in extra if col not in present]
    if missing:
        raise CLVDataError(
            f"{label}: missing column(s) {', '.join(missing)}; the file has columns: "
            f"{', '.join(map(repr, present))}. Map yours with customer_id=, date=, amount=."
        )


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parsed_date_sql(con, date: str, date_format: str | None) -> str:
    col = _ident(date)
    kind = con.execute(
        "SELECT column_type FROM (DESCRIBE raw_input) WHERE column_name = ?", [date]
    ).fetchall()[0][0]
    if kind.startswith(("DATE", "TIMESTAMP")):
        return f"CAST({col} AS TIMESTAMP)"
    if date_format:
        return f"try_strptime(trim(CAST({col} AS VARCHAR)), '{date_format}')"
    return f"TRY_CAST(trim(CAST({col} AS VARCHAR)) AS TIMESTAMP)"


def _typed_select(con, customer_id, date, amount, extra, date_format) -> str:
    extras = "".join(f", {_ident(c)}" for c in extra)
    return f"""
        SELECT trim(CAST({_ident(customer_id)} AS VARCHAR)) AS customer_id,
               {_parsed_date_sql(con, date, date_format)} AS timestamp,
               TRY_CAST({_ident(amount)} AS DOUBLE) AS amount{extras},
               {_ident(customer_id)} AS raw_customer_id, {_ident(date)} AS raw_date,
               {_ident(amount)} AS raw_amount
        FROM raw_input
    """


def _check_values(log: TransactionLog, customer_id, date, amount, date_format, returns) -> None:
    """Count each kind of bad value in one scan; on a hit, fetch the first offending rows."""
    checks = {
        "customer_id": (
            "customer_id IS NULL OR customer_id = ''",
            f"column {customer_id!r}: missing customer ids",
        ),
        "date_missing": ("raw_date IS NULL", f"column {date!r}: missing dates"),
        "date": (
            "raw_date IS NOT NULL AND timestamp IS NULL",
            f"column {date!r}: dates that cannot be parsed"
            + (f" with format {date_format!r}" if date_format else " (expected ISO 8601, "
               "e.g. 2024-01-31, or pass date_format=)"),
        ),
        "amount_missing": ("raw_amount IS NULL", f"column {amount!r}: missing amounts"),
        "amount": (
            "raw_amount IS NOT NULL AND (amount IS NULL OR isnan(amount) OR isinf(amount))",
            f"column {amount!r}: amounts that are not finite numbers",
        ),
    }
    if returns == "error":
        checks["negative"] = (
            "amount < 0",
            f"column {amount!r}: negative amounts (returns). Pass returns='drop' to remove them "
            "or returns='net' to net them against the same day's purchases",
        )
    counts = log.con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {cond})" for cond, _ in checks.values())
        + " FROM typed"
    ).fetchall()[0]
    for (cond, message), n in zip(checks.values(), counts, strict=True):
        if n:
            rows = log.con.execute(
                f"""
                SELECT row, raw_customer_id AS {_ident(customer_id)}, raw_date AS {_ident(date)},
                       raw_amount AS {_ident(amount)}
                FROM (SELECT row_number() OVER () AS row, * FROM typed)
                WHERE {cond} ORDER BY row LIMIT 5
                """
            ).df()
            raise CLVDataError(
                f"{log.source}: {message}: {n:,} row(s); the first ({ROWS_NOTE}):\n"
                + describe_rows(rows)
            )


def _apply_policies(log: TransactionLog, returns: str, duplicates: str, amount: str) -> None:
    con = log.con
    cols = ["customer_id", "timestamp", "amount", *map(_ident, log.extra_columns)]
    select = ", ".join(cols)
    where = ""
    n_returns = con.execute("SELECT count(*) FROM typed WHERE amount < 0").fetchall()[0][0]
    if returns == "drop":
        where = "WHERE amount >= 0"
    note_returns(log, returns, n_returns, amount)

    n_extra = _duplicate_count(con, select, where)
    if n_extra:

        def examples() -> str:
            rows = con.execute(
                f"""
                SELECT row, {select} FROM (
                    SELECT row_number() OVER () AS row, {select},
                           count(*) OVER (PARTITION BY {select}) AS n
                    FROM typed {where})
                WHERE n > 1 ORDER BY row LIMIT 5
                """
            ).df()
            return f"the first ({ROWS_NOTE}):\n{describe_rows(rows)}"

        note_duplicates(log, n_extra, duplicates, examples)
        if duplicates == "drop":
            con.execute(f"CREATE VIEW transactions AS SELECT DISTINCT {select} FROM typed {where}")
            return
    con.execute(f"CREATE VIEW transactions AS SELECT {select} FROM typed {where}")


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


def _duplicate_count(con, select: str, where: str) -> int:
    """How many rows repeat an earlier row in every kept column.

    First the distinct 64-bit hashes of the rows are counted (cheaper than DISTINCT over the
    columns): if every row has its own hash there is no duplicate, exactly. Only when hashes
    repeat are the rows themselves compared, so a hash collision cannot miscount.
    """
    total, hashes = con.execute(
        f"SELECT count(*), count(DISTINCT hash({select})) FROM typed {where}"
    ).fetchall()[0]
    if hashes == total:
        return 0
    distinct = con.execute(
        f"SELECT count(*) FROM (SELECT DISTINCT {select} FROM typed {where})"
    ).fetchall()[0][0]
    return total - distinct
