"""Gamma-Gamma spend model of Fader & Hardie (2013)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from clvlib import expectations as ex
from clvlib.compression import WEIGHT_COLUMN, CompressedRows
from clvlib.errors import CLVDataError, describe_rows
from clvlib.likelihoods import gamma_gamma_loglike, gamma_gamma_logp
from clvlib.models import kernels
from clvlib.models.base import CLVModel, Likelihood
from clvlib.predict import Prediction, posterior_predict
from clvlib.priors import Prior
from clvlib.summary import customer_frame


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
    :func:`clvlib.expectations.gamma_gamma_expected_spend` refuses such draws with an error
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
    likelihood = Likelihood(pointwise=gamma_gamma_logp, total=gamma_gamma_loglike)
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
            return posterior_predict(ex.gamma_gamma_expected_spend, draws, rows, frame.index,
                                     name="expected spend per purchase", interval=interval)
        # Each distinct row (spend, covariates, group) with its own gamma_i: posterior_predict
        # passes the rows' indices, chunk by chunk, and gets the spend under their parameters.
        indexed = CompressedRows({"row": np.arange(len(rows), dtype=float)}, rows.weights,
                                 rows.inverse)

        def spend_of_rows(row, **_):
            at = row[:, 0].astype(int)
            linked = self.linked_params(draws, {c: rows[c][at] for c in self.design_columns})
            return ex.gamma_gamma_expected_spend(**linked, x=rows["x"][at, None],
                                                 m=rows["m"][at, None])

        return posterior_predict(spend_of_rows, {"draw": np.zeros(len(draws["p"]))}, indexed,
                                 frame.index, name="expected spend per purchase",
                                 interval=interval)
