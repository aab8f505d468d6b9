"""Time-invariant customer covariates: read, checked, joined to a summary and coded for a model.

A covariate table has one row per customer id (a DataFrame, a CSV or a Parquet file);
:func:`attach_covariates` joins it to a customer summary (``clvlib.summarize(...,
covariates=TABLE)`` does this), refusing missing or duplicate rows, customers without
covariates and empty cells, each error naming the column and the first customers.

A model names the columns it uses (``purchase_covariates=[...]`` and so on); :class:`Design`
codes them once, on the customers the model is built on, and applies the same coding to any
customers scored later:

- a numeric column is used as it is, or standardized (minus its mean, over its standard
  deviation) when asked; a column that does not vary is refused;
- a categorical column (text, category or boolean) becomes one 0/1 indicator per level other
  than its baseline, named ``column[level]``; the baseline is the level given in
  ``baselines`` or else the most frequent level (ties: the first in sorted order), and it is
  stated in :meth:`Design.describe`.

A linked parameter of a customer with coded covariates ``x_i`` and coefficients ``g`` is
``theta_i = theta * exp(sign * x_i'g)`` (the signs are the models' ``covariate_links``);
:func:`linear_predictor` computes ``x_i'g`` for PyTensor coefficients ``(K,)`` and for NumPy
posterior draws ``(S, K)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytensor.tensor as pt

from clvlib.errors import CLVDataError, describe_rows

#: The id column a covariate file has by default (a DataFrame may carry the ids as its index);
#: the report uses the log's ``customer_id_column`` (or ``covariates_id_column``).
ID_COLUMN = "customer_id"


def read_covariates(table, source: str = "covariates", id_column: str = ID_COLUMN
                    ) -> pd.DataFrame:
    """A covariate table indexed by customer id, as text: from a DataFrame, CSV or Parquet file.

    Parameters
    ----------
    id_column : str
        The column (or index) holding the customer ids, matched as text with the summary's.

    Raises
    ------
    CLVDataError
        When there is no ``id_column`` column (or index), an id is missing or repeated.
    """
    if isinstance(table, (str, Path)):
        path, source = Path(table), str(table)
        if not path.exists():
            raise CLVDataError(f"covariates: no file {path}")
        frame = (pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq")
                 else pd.read_csv(path, dtype={id_column: str}))
    elif isinstance(table, pd.DataFrame):
        frame = table.copy()
    else:
        raise TypeError(f"covariates: a DataFrame or a CSV/Parquet path, not {type(table)}")
    if id_column not in frame.columns:
        if frame.index.name != id_column:
            raise CLVDataError(
                f"{source}: needs a '{id_column}' column (or index) naming each customer; it "
                f"has {list(frame.columns)}"
            )
        frame = frame.reset_index()
    ids = frame[id_column]
    if ids.isna().any():
        raise CLVDataError(f"{source}: '{id_column}' is empty on {int(ids.isna().sum()):,} "
                           "row(s), the first:\n" + describe_rows(frame[ids.isna()]))
    frame[id_column] = ids.astype(str)
    repeated = frame[id_column].duplicated(keep=False)
    if repeated.any():
        raise CLVDataError(
            f"{source}: {int(frame.loc[repeated, id_column].nunique()):,} customer(s) have "
            "more than one covariate row (one row per customer is needed), the first:\n"
            + describe_rows(frame[repeated].sort_values(id_column))
        )
    return frame.set_index(id_column)


def attach_covariates(customers: pd.DataFrame, table, source: str = "covariates",
                      id_column: str = ID_COLUMN) -> pd.DataFrame:
    """``customers`` with the covariate columns of ``table`` joined by customer id (the
    table's ``id_column``, see :func:`read_covariates`).

    Raises
    ------
    CLVDataError
        When a covariate column clashes with a summary column, a customer has no covariate row,
        or a covariate value is missing (naming the column and the first customers).
    """
    cov = read_covariates(table, source, id_column)
    clash = [c for c in cov.columns if c in customers.columns]
    if clash:
        raise CLVDataError(f"{source}: column(s) {clash} are already in the customer summary; "
                           "rename them in the covariate table")
    ids = pd.Index(customers.index.astype(str))
    absent = ~ids.isin(cov.index)
    if absent.any():
        raise CLVDataError(
            f"{source}: {int(absent.sum()):,} customer(s) of the summary have no covariate "
            f"row, the first: {', '.join(ids[absent][:5])}"
        )
    joined = cov.reindex(ids)
    joined.index = customers.index
    for column in joined.columns:
        empty = joined[column].isna()
        if empty.any():
            raise CLVDataError(
                f"{source}: column '{column}' is empty for {int(empty.sum()):,} customer(s), "
                f"the first: {', '.join(map(str, joined.index[empty][:5]))}"
            )
    return pd.concat([customers, joined], axis=1)


@dataclass(frozen=True)
class CovariateCoding:
    """How one covariate column becomes design columns (numbers fixed at fit time)."""

    column: str
    kind: str  # "numeric" or "categorical"
    levels: tuple[str, ...] = ()  # categorical: the levels coded, baseline excluded
    baseline: str | None = None
    center: float = 0.0
    scale: float = 1.0

    @property
    def names(self) -> list[str]:
        if self.kind == "categorical":
            return [f"{self.column}[{level}]" for level in self.levels]
        return [self.column]

    def encode(self, values: pd.Series) -> np.ndarray:
        if self.kind == "categorical":
            text = values.astype(str).to_numpy()
            known = set(self.levels) | {self.baseline}
            unknown = ~np.isin(text, list(known))
            if unknown.any():
                raise CLVDataError(
                    f"covariate '{self.column}': level(s) {sorted(set(text[unknown]))[:5]} "
                    f"were not in the fitted data (levels {sorted(known)}), first customers: "
                    f"{', '.join(map(str, values.index[unknown][:5]))}"
                )
            return np.column_stack([text == level for level in self.levels]).astype(float)
        numbers = _numeric(values, self.column)
        return ((numbers - self.center) / self.scale)[:, None]

    def description(self) -> str:
        if self.kind == "categorical":
            return (f"{self.column}: categorical, {len(self.levels) + 1} levels coded against "
                    f"the baseline {self.baseline!r}")
        if self.scale != 1.0 or self.center != 0.0:
            return (f"{self.column}: numeric, standardized (minus {self.center:.6g}, divided "
                    f"by {self.scale:.6g})")
        return f"{self.column}: numeric, as given"


@dataclass(frozen=True)
class Design:
    """The coded covariates of one role (purchase, dropout or spend) of a model.

    Attributes
    ----------
    role : str
        ``"purchase"``, ``"dropout"`` or ``"spend"``.
    codings : tuple of CovariateCoding
        One per named column, in order.
    """

    role: str
    codings: tuple[CovariateCoding, ...] = field(default_factory=tuple)

    @classmethod
    def fit(cls, role: str, customers: pd.DataFrame, columns, baselines: dict | None = None,
            standardize: bool = False, source: str = "summary") -> Design:
        """Code ``columns`` of ``customers``; errors name the column and the first customers."""
        columns = [columns] if isinstance(columns, str) else list(columns)
        if not columns:
            raise ValueError(f"{role}_covariates: name at least one column")
        if len(set(columns)) < len(columns):
            raise ValueError(f"{role}_covariates: a column is named twice in {columns}")
        missing = [c for c in columns if c not in customers.columns]
        if missing:
            raise CLVDataError(
                f"{source}: {role} covariate column(s) {missing} are not in the customer table "
                f"(columns: {list(customers.columns)}); attach them with "
                "clvlib.summarize(..., covariates=TABLE)"
            )
        return cls(role, tuple(_coding(customers[c], baselines or {}, standardize, source)
                               for c in columns))

    @property
    def names(self) -> list[str]:
        """Names of the design columns (the coefficients' coordinate)."""
        return [name for coding in self.codings for name in coding.names]

    @property
    def dim(self) -> str:
        """The coefficients' dimension name."""
        return f"{self.role}_covariate"

    @property
    def coefficient(self) -> str:
        """The coefficients' variable name."""
        return f"g_{self.role}"

    @property
    def frame_columns(self) -> list[str]:
        """Column names of the design inside a model's compressed rows."""
        return [f"{self.role}:{name}" for name in self.names]

    def matrix(self, customers: pd.DataFrame) -> np.ndarray:
        """The design matrix ``(customers, K)`` of ``customers`` under this coding."""
        missing = [c.column for c in self.codings if c.column not in customers.columns]
        if missing:
            raise CLVDataError(f"customers to score lack the {self.role} covariate column(s) "
                               f"{missing} the model was fitted with")
        return np.column_stack([c.encode(customers[c.column]) for c in self.codings])

    def frame(self, customers: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.matrix(customers), index=customers.index,
                            columns=self.frame_columns)

    def describe(self) -> list[str]:
        """One sentence per column: how it was coded (baseline, standardization)."""
        return [c.description() for c in self.codings]

    def to_dict(self) -> dict:
        return {"role": self.role, "codings": [vars(c) | {"levels": list(c.levels)}
                                               for c in self.codings]}


def _numeric(values: pd.Series, column: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.fillna(0))
    if bad.any():
        raise CLVDataError(
            f"covariate '{column}': {int(bad.sum()):,} value(s) are missing, not numbers or "
            f"infinite, the first customers:\n" + describe_rows(values[bad].to_frame())
        )
    return numbers.to_numpy(dtype=float)


def _coding(values: pd.Series, baselines: dict, standardize: bool, source: str
            ) -> CovariateCoding:
    column = str(values.name)
    empty = values.isna()
    if empty.any():
        first = ", ".join(map(str, values.index[empty][:5]))
        raise CLVDataError(f"{source}: covariate '{column}' is empty for {int(empty.sum()):,} "
                           f"customer(s), the first: {first}")
    categorical = not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
    if categorical:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().any() and numbers.isna().any() and numbers.notna().mean() > 0.5:
            bad = numbers.isna()
            raise CLVDataError(
                f"{source}: covariate '{column}' is mostly numbers but {int(bad.sum()):,} "
                "value(s) are not, the first customers:\n" + describe_rows(values[bad].to_frame())
            )
    if values.nunique() < 2:
        raise CLVDataError(
            f"{source}: covariate '{column}' takes one value ({values.iloc[0]!r}) for every "
            f"customer (first: {', '.join(map(str, values.index[:5]))}); a constant column "
            "cannot explain differences, leave it out"
        )
    if categorical:
        text = values.astype(str)
        counts = text.value_counts()
        baseline = baselines.get(column)
        if baseline is None:
            top = counts[counts == counts.max()].index
            baseline = sorted(top)[0]
        elif str(baseline) not in counts.index:
            raise CLVDataError(f"{source}: baseline {baseline!r} of covariate '{column}' is not "
                               f"one of its levels {sorted(counts.index)}")
        baseline = str(baseline)
        levels = tuple(sorted(level for level in counts.index if level != baseline))
        return CovariateCoding(column, "categorical", levels, baseline)
    numbers = _numeric(values, column)
    if standardize:
        return CovariateCoding(column, "numeric", center=float(numbers.mean()),
                               scale=float(numbers.std()))
    return CovariateCoding(column, "numeric")


def linear_predictor(design: np.ndarray, coefficients):
    """``x_i'g`` per row: PyTensor ``(K,)`` coefficients give ``(rows,)``; NumPy draws
    ``(S, K)`` give ``(rows, S)``."""
    if isinstance(coefficients, pt.Variable):
        return pt.dot(pt.as_tensor_variable(design), coefficients)
    coefficients = np.asarray(coefficients, dtype=float)
    if coefficients.ndim == 1:
        return design @ coefficients
    return design @ coefficients.T
