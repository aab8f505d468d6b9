"""Gamma-Gamma: the spend model of Fader, Hardie & Lee (2005) and Fader & Hardie (2013).

Each purchase of a customer is worth ``Gamma(p, nu)``, with the customer's ``nu ~ Gamma(q, gamma)``.

Its sections follow the layout of every model module (:mod:`clvlib.models`); its compiled
kernel (:mod:`clvlib.models.kernels`) is held equal to this likelihood.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytensor.tensor as pt

from clvlib.compression import WEIGHT_COLUMN, CompressedRows
from clvlib.errors import CLVDataError, describe_rows
from clvlib.models import kernels, numerics
from clvlib.models.base import CLVModel, Likelihood, SpendExpectations
from clvlib.predict import Prediction, posterior_predict
from clvlib.priors import Prior
from clvlib.summary import customer_frame

# ============================================================================================
# The likelihood (PyTensor)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# Gamma-Gamma spend: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", eq. (4).
# Each transaction's value is Gamma(p, nu); nu ~ Gamma(q, gamma) across customers. Only
# customers with at least one repeat purchase (x > 0) carry information; m is the mean spend
# of their x repeat purchases.
# --------------------------------------------------------------------------------------------


def _x_part(p, q, gamma, x):
    px = p * x
    return pt.gammaln(px + q) - pt.gammaln(px) - pt.gammaln(q) + q * pt.log(gamma) + px * pt.log(x)


def _spend_part(p, q, gamma, x, m):
    px = p * x
    return (px - 1) * pt.log(m) - (px + q) * pt.log(gamma + x * m)


def logp(p, q, gamma, x, m):
    """Gamma-Gamma log-density of each customer's mean spend ``m`` over ``x > 0`` purchases.

    Parameters
    ----------
    p : scalar
        Shape of the gamma distribution of one transaction's value.
    q, gamma : scalar
        Shape and rate of the gamma distribution of the per-customer rate ``nu``.
    x, m : array
        Repeat purchases (all > 0) and their mean value.
    """
    p, q, gamma = numerics.float64(p, q, gamma)
    return _x_part(p, q, gamma, x) + _spend_part(p, q, gamma, x, m)


def loglike(p, q, gamma, rows: CompressedRows):
    """Total Gamma-Gamma log-likelihood of weighted rows with columns ``x`` and ``m``."""
    p, q, gamma = numerics.float64(p, q, gamma)
    xs, x_weights, _ = rows.distinct("x")
    return pt.sum(x_weights * _x_part(p, q, gamma, xs)) + pt.sum(
        rows.weights * _spend_part(p, q, gamma, rows["x"], rows["m"])
    )


# ============================================================================================
# Closed forms (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# Gamma-Gamma (Fader & Hardie 2013)
# --------------------------------------------------------------------------------------------


def expected_spend(p, q, gamma, x, m):
    """E[M | x, m]: a customer's expected spend per transaction (FH 2013, eq. 5).

    ``p (gamma + x m) / (p x + q - 1)``. For ``x = 0`` (no repeat purchase to learn from) this
    is the population mean ``p gamma / (q - 1)``, which exists only for ``q > 1``: the mean of
    ``1/nu`` with ``nu ~ Gamma(q, gamma)`` is infinite for ``q <= 1``, and the formula would
    give a negative or infinite spend. Wherever ``p x + q - 1 <= 0`` (so for every customer
    without repeat purchases once ``q <= 1``) this raises rather than return such a value.

    Raises
    ------
    ValueError
        Naming the parameters and the customers' ``x`` where the expected spend is infinite.
    """
    x = np.asarray(x, dtype=float)
    m = np.nan_to_num(np.asarray(m, dtype=float))
    denominator = p * x + q - 1
    undefined = ~(denominator > 0)
    if np.any(undefined):
        p_, q_, x_ = (np.broadcast_to(np.asarray(v, dtype=float), undefined.shape)[undefined]
                      for v in (p, q, x))
        raise ValueError(
            f"Gamma-Gamma expected spend is infinite for {int(undefined.sum()):,} "
            f"(draw, customer) pair(s): it needs p x + q > 1, and the first has p={p_[0]:.4g}, "
            f"q={q_[0]:.4g}, x={x_[0]:g}. With q <= 1 the spread of spend across customers is "
            "so wide that a customer without repeat purchases has no finite expected spend; "
            "the model's default prior keeps q above 1 (GammaGammaModel)"
        )
    return p * (gamma + x * m) / denominator


# ============================================================================================
# Simulation (NumPy)
# ============================================================================================

# --------------------------------------------------------------------------------------------
# Gamma-Gamma spend (Fader, Hardie & Lee 2005; Fader & Hardie 2013)
# --------------------------------------------------------------------------------------------


def spend_rvs(p, q, gamma, customer, n_customers=None, rng=None):
    """Simulate the value of each transaction made by the customers in ``customer``.

    Each customer draws ``nu ~ Gamma(q, rate=gamma)``; each of their transactions is worth
    ``Gamma(p, rate=nu)``.

    Parameters
    ----------
    customer : array of int
        The customer index of each transaction (repeats allowed).
    n_customers : int, optional
        Number of customers (default ``customer.max() + 1``).
    """
    rng = np.random.default_rng(rng)
    customer = np.asarray(customer)
    n = int(customer.max()) + 1 if n_customers is None else n_customers
    nu = rng.gamma(q, 1.0 / gamma, size=n)
    return rng.gamma(p, 1.0, size=customer.size) / nu[customer]


def rvs(p, q, gamma, x, rng=None):
    """Simulate mean spends ``m`` for customers with ``x > 0`` repeat purchases."""
    rng = np.random.default_rng(rng)
    x = np.asarray(x)
    customer = np.repeat(np.arange(x.size), x)
    spend = spend_rvs(p, q, gamma, customer, x.size, rng)
    return np.bincount(customer, weights=spend, minlength=x.size) / x


# ============================================================================================
# The model
# ============================================================================================


class GammaGammaModel(CLVModel):
    """Gamma-Gamma model of the value of each customer's transactions.

    A transaction is worth ``Gamma(p, nu)``; the rate ``nu ~ Gamma(q, gamma)`` differs across
    customers. The model is fitted to customers with at least one repeat purchase, using their
    mean repeat spend (``monetary``), and assumes spend is independent of purchase frequency:
    :func:`clvlib.plots.plot_spend_frequency` shows the data on that.

    Default priors are wide: ``LogNormal(0, 3)`` on ``p`` and ``gamma`` (``gamma`` is in the
    currency of the amounts), and ``1 + LogNormal(0, 3)`` on ``q``. The shift keeps ``q > 1``:
    the expected spend of a customer without repeat purchases is the population mean
    ``p gamma / (q - 1)``, infinite for ``q <= 1`` (the spread of spend across customers is then
    so wide that its mean does not exist). With priors that allow ``q <= 1``,
    :func:`expected_spend` refuses such draws with an error
    rather than return a negative or infinite spend.
    """

    name = "gamma_gamma"
    title = "Gamma-Gamma"
    story = ("Gamma-Gamma (Fader, Hardie & Lee 2005; Fader & Hardie 2013): each purchase of "
             "customer i is worth Gamma(p, nu_i), with nu_i ~ Gamma(q, gamma): their mean spend "
             "p / nu_i is their own, and a new customer's mean spend is p gamma / (q - 1). Spend "
             "is assumed independent of how often a customer buys (checked, not assumed, in the "
             "course).")
    kernel = kernels.GAMMA_GAMMA
    params = ("p", "q", "gamma")
    columns = ("x", "m")
    default_priors = {
        "p": Prior("LogNormal", mu=0, sigma=3),
        "q": Prior("LogNormal", mu=0, sigma=3, shift=1),
        "gamma": Prior("LogNormal", mu=0, sigma=3),
    }
    likelihood = Likelihood(pointwise=logp, total=loglike)
    expectations = SpendExpectations(expected_spend=expected_spend)
    #: nu_i = nu exp(-x_i'g_spend), so nu_i ~ Gamma(q, gamma_i) with gamma_i = gamma
    #: exp(x_i'g_spend): spend is on the scale of exp(x_i'g_spend) (E[spend_i] = p gamma_i /
    #: (q - 1)); a positive coefficient means spending more per purchase.
    covariate_links = {"spend": ("gamma", 1.0)}

    def likelihood_frame(self, customers: pd.DataFrame) -> pd.DataFrame:
        if "monetary" not in customers.columns:
            raise CLVDataError(
                "Gamma-Gamma needs a 'monetary' column (mean spend per repeat purchase); the "
                f"summary has {list(customers.columns)}"
            )
        repeat = customers[customers["x"] > 0]
        invalid = ~np.isfinite(repeat["monetary"]) | (repeat["monetary"] < 0)
        if invalid.any():
            raise CLVDataError(
                "Gamma-Gamma: 'monetary' must be a non-negative number for customers with "
                f"x > 0; {int(invalid.sum()):,} are not, the first:\n"
                + describe_rows(repeat.loc[invalid, ["x", "monetary"]])
            )
        free = repeat["monetary"] == 0
        if free.any():
            note = (
                f"{int(free.sum()):,} customer(s) whose repeat purchases were all free (mean spend "
                "0) are left out of the Gamma-Gamma fit, which needs positive spend; their "
                "expected spend is still predicted from their history"
            )
            self.notes.append(note)
            warnings.warn(note, stacklevel=3)
            repeat = repeat[~free]
        if repeat.empty:
            raise CLVDataError("Gamma-Gamma: no customer has a paid repeat purchase to learn from")
        keep = ["x", "m"] + ([WEIGHT_COLUMN] if WEIGHT_COLUMN in repeat.columns else [])
        return repeat.assign(m=repeat["monetary"])[keep]

    def expected_spend(self, customers=None, *, n_draws: int | None = 1000, seed: int = 0,
                       interval: float = 0.9) -> Prediction:
        """Posterior expected spend per transaction of each customer (population mean if x = 0)."""
        frame = self.customers if customers is None else customer_frame(customers)
        data = pd.DataFrame({"x": frame["x"], "m": frame["monetary"].fillna(0.0)})
        data = data.join(pd.DataFrame(self.design_matrix(frame), index=frame.index,
                                      columns=list(self.design_columns)))
        rows = CompressedRows.from_frame(data, ("x", "m") + self.design_columns)
        draws = self.posterior_draws(n_draws, seed)
        if not self.indexed:
            return posterior_predict(expected_spend, draws, rows, frame.index,
                                     name="expected spend per purchase", interval=interval)
        # Each distinct row (spend, covariates, group) with its own gamma_i: posterior_predict
        # passes the rows' indices, chunk by chunk, and gets the spend under their parameters.
        indexed = CompressedRows({"row": np.arange(len(rows), dtype=float)}, rows.weights,
                                 rows.inverse)

        def spend_of_rows(row, **_):
            at = row[:, 0].astype(int)
            linked = self.linked_params(draws, {c: rows[c][at] for c in self.design_columns})
            return expected_spend(**linked, x=rows["x"][at, None],
                                                 m=rows["m"][at, None])

        return posterior_predict(spend_of_rows, {"draw": np.zeros(len(draws["p"]))}, indexed,
                                 frame.index, name="expected spend per purchase",
                                 interval=interval)
