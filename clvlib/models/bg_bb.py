"""BG/BB: the beta-geometric/beta-Bernoulli model of Fader, Hardie & Shang (2010).

Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual
setting", Marketing Science 29(6). Time is a sequence of discrete transaction opportunities (a
yearly fund drive, a weekly show); a customer's history is how many opportunities they used
(``x``), the last one used (``t_x``) and how many they had (``n``).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from clvlib import expectations as ex
from clvlib.compression import WEIGHT_COLUMN, CompressedRows
from clvlib.errors import CLVDataError
from clvlib.likelihoods import bg_bb_loglike, bg_bb_logp
from clvlib.models.base import CLVModel, Likelihood
from clvlib.predict import Prediction, posterior_predict
from clvlib.priors import Prior
from clvlib.summary import CustomerSummary
from clvlib.validation import check_whole_numbers, raise_for_rows, with_default_period

# The donations file and lifetimes name the BG/BB columns this way; the model's own names are
# those of FHS (2010).
COLUMN_ALIASES = {"frequency": "x", "recency": "t_x", "periods": "n"}

def check_opportunities(customers: pd.DataFrame, source: str = "BG/BB data") -> pd.DataFrame:
    """Validate a BG/BB table: ``x``, ``t_x``, ``n`` per row and optional ``weights``.

    The donations-file names ``frequency``, ``recency`` and ``periods`` are accepted for
    ``x``, ``t_x`` and ``n``. Each row must have ``0 <= x <= t_x <= n`` in whole numbers,
    ``t_x = 0`` exactly when ``x = 0``.

    Returns
    -------
    pandas.DataFrame
        A copy with the model's column names, as floats.

    Raises
    ------
    CLVDataError
        Naming the column and the first offending rows.

    Examples
    --------
    >>> check_opportunities(pd.DataFrame({"x": [2], "t_x": [5], "n": [4]}))
    Traceback (most recent call last):
    ...
    clvlib.errors.CLVDataError: BG/BB data: t_x > n (a last transaction after the last opportunity): 1 row(s); the first:
       x  t_x  n
    0  2    5  4
    """  # noqa: E501
    renames = {old: new for old, new in COLUMN_ALIASES.items()
               if old in customers.columns and new not in customers.columns}
    frame = customers.rename(columns=renames)
    missing = [c for c in ("x", "t_x", "n") if c not in frame.columns]
    if missing:
        raise CLVDataError(
            f"{source}: missing column(s) {missing}; BG/BB needs x (transactions), t_x (the "
            "opportunity of the last one, 0 if none) and n (opportunities), or frequency, "
            f"recency and periods; it has {list(customers.columns)}"
        )
    values = check_whole_numbers(frame, ("x", "t_x", "n"), source, "BG/BB")
    x, t_x, n = values["x"], values["t_x"], values["n"]
    problems = {
        "t_x > n (a last transaction after the last opportunity)": t_x > n,
        "x > t_x (more transactions than opportunities up to the last one)": x > t_x,
        "x = 0 but t_x > 0": (x == 0) & (t_x > 0),
        "x > 0 but t_x = 0": (x > 0) & (t_x == 0),
    }
    for what, bad in problems.items():
        raise_for_rows(bad, frame, ["x", "t_x", "n"], f"{source}: {what}")
    return values


class BetaGeoBetaBinomModel(CLVModel):
    """BG/BB model of repeat transactions over discrete opportunities.

    At the start of each opportunity a living customer drops out with probability
    ``theta ~ Beta(gamma, delta)``; if still alive, they transact with probability
    ``p ~ Beta(alpha, beta)``. Customers may have different numbers of opportunities ``n``; a
    ``weights`` column lets each row stand for many customers (the donations file).

    Default priors are weakly informative: ``LogNormal(0, 1.5)`` on each of the four beta
    shape parameters (unit-free; 95% between 0.05 and 19, so both U-shaped and concentrated
    beta distributions are plausible). Time is counted in opportunities; the input's
    ``attrs["time_unit"]`` names their period (default: year).

    Examples
    --------
    >>> model = BetaGeoBetaBinomModel(clvlib.load_dataset("donations"))  # doctest: +SKIP
    >>> model.fit("map", progressbar=False)  # doctest: +SKIP
    >>> model.p_alive().per_customer.head()  # doctest: +SKIP
    """

    name = "bg_bb"
    title = "BG/BB"
    story = ("BG/BB (Fader, Hardie & Shang 2010): at each discrete opportunity an active "
             "customer buys with their own probability p_i ~ Beta(alpha, beta) and, after it, "
             "leaves with their own probability theta_i ~ Beta(gamma, delta).")
    params = ("alpha", "beta", "gamma", "delta")
    columns = ("x", "t_x", "n")
    default_priors = {name: Prior("LogNormal", mu=0, sigma=1.5) for name in params}
    likelihood = Likelihood(pointwise=bg_bb_logp, total=bg_bb_loglike)

    def __init__(self, data: pd.DataFrame, priors: dict | None = None):
        super().__init__(with_default_period(data), priors)

    def check_data(self, customers: pd.DataFrame, source: str) -> pd.DataFrame:
        return check_opportunities(customers, source)

    # -- existing customers -------------------------------------------------------------------

    def p_alive(self, customers=None, *, n_draws: int | None = 1000, seed: int = 0,
                interval: float = 0.9) -> Prediction:
        """Posterior probability that each customer is alive at the next opportunity (n+1)."""
        return self._predict(ex.bg_bb_p_alive, "P(alive at the next opportunity)", customers,
                             n_draws, seed, interval)

    def expected_purchases(self, n_star: int, customers=None, *, n_draws: int | None = 1000,
                           seed: int = 0, interval: float = 0.9) -> Prediction:
        """Expected transactions of each customer in the next ``n_star`` opportunities."""
        fn = partial(ex.bg_bb_expected_purchases, n_star=n_star)
        name = f"expected transactions in the next {n_star:g} opportunities"
        return self._predict(fn, name, customers, n_draws, seed, interval)

    def dert(self, d: float, customers=None, *, n_draws: int | None = 1000, seed: int = 0,
             interval: float = 0.9) -> Prediction:
        """Discounted expected residual transactions at discount rate ``d`` per opportunity.

        ``d`` is the effective rate per opportunity of the one discounting convention
        (:mod:`clvlib.discounting`): for opportunities ``days`` long and an annual rate ``r``,
        ``d = Discount(r).per_period(days)`` (``d = r`` for yearly opportunities).

        Examples
        --------
        >>> model.dert(0.1).per_customer.head()  # doctest: +SKIP
        """
        fn = partial(ex.bg_bb_dert, d=d)
        name = f"DERT at {d:.3g} per {self.time_unit.name}"
        return self._predict(fn, name, customers, n_draws, seed, interval)

    # -- a new customer -----------------------------------------------------------------------

    def expected_purchases_new(self, n, *, n_draws: int | None = 1000, seed: int = 0,
                               interval: float = 0.9) -> Prediction:
        """E[X(n)] for a new customer, for each number of opportunities in ``n``."""
        frame = pd.DataFrame({"n": np.atleast_1d(np.asarray(n, dtype=float))})
        return self._predict_table(ex.bg_bb_expected_purchases_new, "E[X(n)], a new customer",
                                   frame, n_draws, seed, interval)

    def prob_purchases(self, x, n, *, n_draws: int | None = 1000, seed: int = 0,
                       interval: float = 0.9) -> Prediction:
        """P(X(n) = x) for a new customer, indexed by ``(n, x)`` (broadcast against each other).

        Examples
        --------
        >>> model.prob_purchases(np.arange(7), 6).per_customer["mean"]  # doctest: +SKIP
        """
        x, n = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
        frame = pd.DataFrame({"n": n.reshape(-1), "x": x.reshape(-1)})
        return self._predict_table(ex.bg_bb_prob_purchases, "P(X(n) = x), a new customer",
                                   frame, n_draws, seed, interval)

    # -- helpers ------------------------------------------------------------------------------

    def _predict(self, fn, name: str, customers, n_draws, seed, interval) -> Prediction:
        frame = self.customers if customers is None else self.check_data(
            _frame_of(customers), "customers")
        weights = frame[WEIGHT_COLUMN] if WEIGHT_COLUMN in frame.columns else None
        rows = CompressedRows.from_frame(frame, self.columns, weights)
        return posterior_predict(fn, self.posterior_draws(n_draws, seed), rows, frame.index,
                                 name=name, interval=interval)

    def _predict_table(self, fn, name: str, frame: pd.DataFrame, n_draws, seed,
                       interval) -> Prediction:
        rows = CompressedRows.from_frame(frame, tuple(frame.columns))
        index = pd.MultiIndex.from_frame(frame) if frame.shape[1] > 1 else pd.Index(
            frame.iloc[:, 0], name=frame.columns[0])
        return posterior_predict(fn, self.posterior_draws(n_draws, seed), rows, index,
                                 name=name, interval=interval)


def _frame_of(customers) -> pd.DataFrame:
    if isinstance(customers, CustomerSummary):
        return customers.customers
    return pd.DataFrame(customers)
