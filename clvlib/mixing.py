"""The fitted mixing distributions: how purchase rates and dropout differ across customers.

A purchase model says each customer has their own purchase rate (``lambda ~ Gamma(r, alpha)``;
lognormal in Pareto/NBD (Abe)) and their own dropout (a probability ``p ~ Beta(a, b)`` after
each purchase, or a lifetime whose hazard a frailty such as ``mu ~ Gamma(s, beta)`` scales):
the model's :attr:`~clvlib.models.base.PurchaseModel.purchase_mixing` and
:attr:`~clvlib.models.base.PurchaseModel.dropout_mixing`. With covariates or groups, ``alpha``
(or ``a``, ``beta``, a median) is each customer's own, so the spread across the customer base
is a *mixture*: one component per distinct covariate (and group) row, weighted by its customers
(:meth:`~clvlib.models.base.CLVModel.customer_mix`). A model without covariates is the one-row
case. The report's figures and sentences read these, so the "average customer" they quote is the
average over the real customers, not the baseline customer whose coded covariates are all 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = ["Mixture", "dropout_mixture", "lifetime_density", "lifetime_quantities",
           "purchase_rate_mixture", "regularity_mixture"]

#: Draws x grid points x rows evaluated at once.
_CELLS = 4_000_000


@dataclass(frozen=True)
class Mixture:
    """A weighted mixture of gamma (shape, rate), beta (a, b) or lognormal (median, sigma)
    distributions, per draw.

    Attributes
    ----------
    family : {"gamma", "beta", "lognormal"}
    first, second : ndarray, shape (draws, rows)
        Gamma: shape and rate; beta: ``a`` and ``b``; lognormal: the median and the standard
        deviation of the log.
    weights : ndarray, shape (rows,)
        Share of customers in each row (summing to 1).
    """

    family: str
    first: np.ndarray
    second: np.ndarray
    weights: np.ndarray

    def _dist(self, first, second):
        if self.family == "gamma":
            return stats.gamma(first, scale=1 / second)
        if self.family == "lognormal":
            return stats.lognorm(second, scale=first)
        return stats.beta(first, second)

    def _mix(self, method: str, values) -> np.ndarray:
        """``sum_d w_d f_d(values)`` per draw, shape ``(draws, *values.shape)``."""
        values = np.asarray(values, dtype=float)
        n_draws, n_rows = self.first.shape
        out = np.zeros((n_draws, *values.shape))
        step = max(1, _CELLS // max(1, n_draws * values.size))
        expand = (slice(None),) + (None,) * values.ndim + (slice(None),)
        for start in range(0, n_rows, step):
            part = slice(start, start + step)
            dist = self._dist(self.first[:, part][expand], self.second[:, part][expand])
            out += getattr(dist, method)(values[..., None]) @ self.weights[part]
        return out

    def pdf(self, values) -> np.ndarray:
        return self._mix("pdf", values)

    def _mix_per_draw(self, method: str, values) -> np.ndarray:
        """``sum_d w_d f_d`` of each draw at its own points: ``values`` and the result are
        ``(draws, points)``."""
        values = np.asarray(values, dtype=float)
        out = np.zeros(values.shape)
        step = max(1, _CELLS // max(1, values.size))
        for start in range(0, self.first.shape[1], step):
            part = slice(start, start + step)
            dist = self._dist(self.first[:, None, part], self.second[:, None, part])
            out += getattr(dist, method)(values[..., None]) @ self.weights[part]
        return out

    def pdf_per_draw(self, values) -> np.ndarray:
        """The density of each draw at its own points, ``(draws, points)``."""
        return self._mix_per_draw("pdf", values)

    def cdf_per_draw(self, values) -> np.ndarray:
        """The distribution function of each draw at its own points, ``(draws, points)``."""
        return self._mix_per_draw("cdf", values)

    def cdf(self, values) -> np.ndarray:
        return self._mix("cdf", values)

    def mean(self) -> np.ndarray:
        """The mean over customers, per draw (the 'average customer')."""
        means = {"gamma": lambda a, b: a / b, "beta": lambda a, b: a / (a + b),
                 "lognormal": lambda m, sigma: m * np.exp(sigma**2 / 2)}[self.family]
        return means(self.first, self.second) @ self.weights

    def ppf(self, q: float) -> np.ndarray:
        """The ``q`` quantile of the mixture, per draw (by root finding on the CDF)."""
        out = np.empty(self.first.shape[0])
        for s in range(len(out)):
            one = Mixture(self.family, self.first[s:s + 1], self.second[s:s + 1], self.weights)
            parts = self._dist(self.first[s], self.second[s]).ppf(q)
            lo, hi = float(np.min(parts)), float(np.max(parts))
            if hi - lo <= 1e-12 * max(1.0, abs(hi)):
                out[s] = lo
                continue
            out[s] = optimize.brentq(lambda v, one=one: one.cdf(v)[0] - q, lo, hi, xtol=1e-12,
                                     rtol=1e-10)
        return out


def _draws(model, n_draws: int | None, seed: int, point: bool) -> tuple[dict, np.ndarray]:
    """The model's parameters per customer row, ``(draws, rows)``, and the rows' weights; with
    ``point``, one 'draw': the posterior means of every variable, then linked."""
    draws = None
    if point:
        draws = {k: v.mean(axis=0, keepdims=True)
                 for k, v in model.posterior_draws().items()}
    params, weights, _ = model.customer_mix(draws=draws, n_draws=n_draws, seed=seed)
    return params, weights / weights.sum()


def _mixture(model, mixing, n_draws: int | None, seed: int, point: bool) -> Mixture:
    return _of_params(mixing, *_draws(model, n_draws, seed, point))


def _of_params(mixing, params: dict, w: np.ndarray) -> Mixture:
    """The mixture a model's :class:`~clvlib.models.base.Mixing` names, from its parameters per
    draw and customer row."""
    first, second, k = params[mixing.first], params[mixing.second], mixing.events_per_purchase
    if k != 1:  # the rate of purchases, every k-th event: the gamma's rate or the median / k
        first, second = (first, second * k) if mixing.family == "gamma" else (first / k, second)
    return Mixture(mixing.family, first, second, w)


def purchase_rate_mixture(model, *, n_draws: int | None = 200, seed: int = 0,
                          point: bool = False) -> Mixture:
    """Purchase rates while active across customers, per time unit of the model: a mixture of
    the model's :attr:`~clvlib.models.base.PurchaseModel.purchase_mixing` (``Gamma(r,
    alpha_d)``; ``point``: at the posterior means)."""
    return _mixture(model, model.purchase_mixing, n_draws, seed, point)


def dropout_mixture(model, *, n_draws: int | None = 200, seed: int = 0,
                    point: bool = False) -> Mixture:
    """Dropout across customers, the model's
    :attr:`~clvlib.models.base.PurchaseModel.dropout_mixing`: ``Beta(a_d, b_d)`` dropout
    probabilities after a purchase (``dropout_kind == "probability"``), or the frailty of a
    lifetime model (``"lifetime"``: ``Gamma(s, beta_d)`` dropout rates per time unit for
    Pareto/NBD, lognormal ones for Pareto/NBD (Abe))."""
    return _mixture(model, model.dropout_mixing, n_draws, seed, point)


def regularity_mixture(model, *, n_draws: int | None = 200, seed: int = 0,
                       point: bool = False) -> Mixture:
    """How regular customers' gaps between purchases are, for a model that lets it differ
    (:attr:`~clvlib.models.base.PurchaseModel.regularity_mixing`, Pareto/GGG: ``k ~
    Gamma(k_shape, k_rate)``, the gaps' coefficient of variation ``1 / sqrt(k)``)."""
    if model.regularity_mixing is None:
        raise ValueError(f"{model.title}: its customers' regularity does not differ")
    return _mixture(model, model.regularity_mixing, n_draws, seed, point)


def lifetime_density(model, lifetimes, *, n_draws: int | None = 200, seed: int = 0) -> np.ndarray:
    """Density of log10(expected lifetime) across customers at ``lifetimes`` (in the model's time
    unit), per posterior draw: shape ``(draws, points)``, for a lifetime model.

    Each customer's expected lifetime is a decreasing function of their frailty ``theta``
    (:class:`clvlib.models.base.Lifetimes`; Pareto/NBD: ``1 / mu``), so the
    density is the frailty's at the frailty giving that lifetime, times ``|d theta / d log10
    lifetime|``, under each draw's own parameters (GGompertz/NBD's ``b`` and ``beta`` move
    together along their ridge: one draw's ``b`` with another's ``beta`` would mean nothing).
    """
    mixture, per_draw = _frailty_draws(model, n_draws, seed)
    frailty, jacobian = np.array(
        [_frailty_of_lifetime(model, lifetimes, params) for params in per_draw]).transpose(1, 0, 2)
    return mixture.pdf_per_draw(frailty) * jacobian


def lifetime_quantities(model, *, n_draws: int | None = 100, seed: int = 0) -> dict:
    """How long customers stay, per posterior draw, for a lifetime model (in its time unit).

    Under each draw's own parameters (as :func:`lifetime_density`): ``at_mean``, the expected
    lifetime of a customer of the average frailty; ``share_shorter``, the share of customers
    with a higher frailty (who are expected to leave sooner); ``q10``, ``q50``, ``q90``, the
    quantiles of the expected lifetime across customers (a long lifetime is a low frailty: the
    10% lifetime quantile is the 90% frailty one). Each an array over draws.
    """
    mixture, per_draw = _frailty_draws(model, n_draws, seed)

    def lifetimes(frailty):
        return np.array([float(model.lifetimes.expected_lifetime(f, p))
                         for f, p in zip(frailty, per_draw, strict=True)])

    mean = mixture.mean()
    out = {"at_mean": lifetimes(mean),
           "share_shorter": 1 - mixture.cdf_per_draw(mean[:, None])[:, 0]}
    return out | {f"q{q}": lifetimes(mixture.ppf(1 - q / 100)) for q in (10, 50, 90)}


def _frailty_draws(model, n_draws: int | None, seed: int) -> tuple[Mixture, list[dict]]:
    """The frailty mixture (the model's dropout mixing, ``Gamma(s, beta)``) per draw, and each
    draw's parameters as scalars (the unlinked ones, such as GGompertz/NBD's ``b``, which a
    lifetime's clock reads)."""
    params, w = _draws(model, n_draws, seed, point=False)
    mixture = _of_params(model.dropout_mixing, params, w)
    per_draw = [{k: float(np.mean(v[d])) for k, v in params.items()}
                for d in range(mixture.first.shape[0])]
    return mixture, per_draw


def _frailty_of_lifetime(model, lifetimes, params: dict):
    """The frailties whose expected lifetimes under ``params`` are ``lifetimes``, and
    ``|d frailty / d log10 lifetime|`` there; 0 where no frailty gives that lifetime (a Gompertz
    lifetime's expectation grows only as the log of 1 / frailty). Inverted on a grid of
    frailties, log against log (exact for Pareto/NBD's ``1 / mu``): no closed-form inverse."""
    grid = np.logspace(-300, 300, 12000)
    log_life = np.log(model.lifetimes.expected_lifetime(grid, params))
    order = np.argsort(log_life)
    log_life, log_frailty = log_life[order], np.log(grid)[order]
    slope = np.gradient(log_frailty, log_life)
    x = np.log(np.asarray(lifetimes, dtype=float))
    frailty = np.exp(np.interp(x, log_life, log_frailty))
    inside = (x >= log_life[0]) & (x <= log_life[-1])
    jacobian = np.where(inside, frailty * np.abs(np.interp(x, log_life, slope)) * np.log(10), 0)
    return frailty, jacobian
