"""BG/NBD: the beta-geometric/negative-binomial model of Fader, Hardie & Lee (2005)."""

from __future__ import annotations

from clvlib import expectations as ex
from clvlib.likelihoods import bg_nbd_loglike, bg_nbd_logp
from clvlib.models import kernels
from clvlib.models.base import Likelihood, PurchaseExpectations, PurchaseModel
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
    story = ("BG/NBD (Fader, Hardie & Lee 2005): while active, customer i buys at their own rate "
             "lambda_i ~ Gamma(r, alpha) per time unit (Poisson purchases); after each repeat "
             "purchase they leave for good with their own probability p_i ~ Beta(a, b).")
    kernel = kernels.BG_NBD
    params = ("r", "alpha", "a", "b")
    default_priors = {
        "r": Prior("LogNormal", mu=0, sigma=1),
        "alpha": Prior("LogNormal", mu=0, sigma=3),
        "a": Prior("LogNormal", mu=0, sigma=1),
        "b": Prior("LogNormal", mu=0, sigma=1),
    }
    likelihood = Likelihood(pointwise=bg_nbd_logp, total=bg_nbd_loglike)
    #: alpha_i = alpha exp(-x_i'g_purchase), as Pareto/NBD: a positive purchase coefficient
    #: means buying more often (E[lambda_i] = r / alpha_i). a_i = a exp(x_i'g_dropout): one
    #: coefficient per covariate, with the sign of Pareto/NBD's (positive: leaving sooner), and
    #: a plain reading: exp(g) multiplies the odds a_i / b of the mean dropout probability
    #: a_i / (a_i + b) after each purchase. Scaling a and b together would move only the spread
    #: of p, not its mean; a second coefficient per covariate (on b) is rarely identified.
    covariate_links = {"purchase": ("alpha", -1.0), "dropout": ("a", 1.0)}
    p_alive_caveat = (
        "Customers with no repeat purchase count as active in BG/NBD, which only lets customers "
        "leave right after a repeat purchase; MBG/NBD and Pareto/NBD do not assume this."
    )
    expectations = PurchaseExpectations(
        p_alive=ex.bg_nbd_p_alive,
        expected_purchases=ex.bg_nbd_expected_purchases,
        expected_purchases_alive=ex.bg_nbd_expected_purchases_alive,
        expected_purchases_new=ex.bg_nbd_expected_purchases_new,
        prob_purchases=ex.bg_nbd_prob_purchases,
    )
