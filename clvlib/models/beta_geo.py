"""BG/NBD: the beta-geometric/negative-binomial model of Fader, Hardie & Lee (2005)."""

from __future__ import annotations

from functools import partial

import numpy as np

from clvlib import expectations as ex
from clvlib.likelihoods import bg_nbd_loglike
from clvlib.models.base import PurchaseModel
from clvlib.predict import Prediction
from clvlib.priors import Prior


class BetaGeoModel(PurchaseModel):
    """BG/NBD model of repeat purchases in continuous time.

    While alive, a customer buys at rate ``lambda ~ Gamma(r, alpha)``; after each repeat
    purchase they drop out with probability ``p ~ Beta(a, b)``.

    Default priors are weakly informative: ``LogNormal(0, 1)`` on the unit-free shapes
    ``r``, ``a`` and ``b`` (95% between 0.14 and 7.1), and a wide ``LogNormal(0, 3)`` on the
    scale ``alpha``, which is measured in the time unit.

    Examples
    --------
    >>> summary = clvlib.summarize(clvlib.read_transactions("cdnow_sample"),
    ...                            calibration_end="1997-09-30")  # doctest: +SKIP
    >>> model = BetaGeoModel(summary)  # doctest: +SKIP
    >>> model.fit("map", progressbar=False)  # doctest: +SKIP
    """

    name = "bg_nbd"
    title = "BG/NBD"
    params = ("r", "alpha", "a", "b")
    default_priors = {
        "r": Prior("LogNormal", mu=0, sigma=1),
        "alpha": Prior("LogNormal", mu=0, sigma=3),
        "a": Prior("LogNormal", mu=0, sigma=1),
        "b": Prior("LogNormal", mu=0, sigma=1),
    }

    def loglike(self, params, rows):
        return bg_nbd_loglike(params["r"], params["alpha"], params["a"], params["b"], rows)

    def p_alive(self, customers=None, *, n_draws: int | None = 1000, seed: int = 0,
                interval: float = 0.9) -> Prediction:
        """Posterior probability that each customer is still alive at the end of calibration."""
        return self._predict(ex.bg_nbd_p_alive, "P(alive)", customers, n_draws, seed, interval)

    def p_alive_draws(self, x, t_x, T, *, n_draws: int | None = 1000, seed: int = 0):
        """P(alive) per posterior draw for arrays of ``x, t_x, T``: shape ``(draws, *shape)``."""
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
        return ex.bg_nbd_p_alive(**self._draws_for(x.ndim, n_draws, seed), x=x, t_x=t_x, T=T)

    def expected_purchases(self, t: float, customers=None, *, n_draws: int | None = 1000,
                           seed: int = 0, interval: float = 0.9) -> Prediction:
        """Expected repeat purchases of each customer in the next ``t`` time units."""
        fn = partial(ex.bg_nbd_expected_purchases, t=t)
        name = self._horizon_name("expected repeat purchases", t)
        return self._predict(fn, name, customers, n_draws, seed, interval)

    def expected_purchases_new(self, t, *, n_draws: int | None = 1000, seed: int = 0):
        """E[X(t)] for a new customer, per posterior draw: shape ``(draws, *t.shape)``."""
        t = np.asarray(t, dtype=float)
        return ex.bg_nbd_expected_purchases_new(**self._draws_for(t.ndim, n_draws, seed), t=t)

    def prob_purchases(self, n, t, *, n_draws: int | None = 1000, seed: int = 0):
        """P(X(t) = n) for a new customer, per draw: shape ``(draws, *broadcast(n, t).shape)``."""
        n, t = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(t, dtype=float))
        return ex.bg_nbd_prob_purchases(**self._draws_for(n.ndim, n_draws, seed), t=t, n=n)
