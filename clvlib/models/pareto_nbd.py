"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987), as written by Fader, Hardie & Lee (2005)."""

from __future__ import annotations

from clvlib import expectations as ex
from clvlib.likelihoods import pareto_nbd_loglike, pareto_nbd_logp
from clvlib.models import kernels
from clvlib.models.base import Likelihood, PurchaseExpectations, PurchaseModel
from clvlib.priors import Prior


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD model of repeat purchases and unobserved dropout in continuous time.

    While alive, a customer buys at rate ``lambda ~ Gamma(r, alpha)``; they stay alive for an
    exponential lifetime with rate ``mu ~ Gamma(s, beta)``, independent of their purchases.

    Default priors: ``LogNormal(0, 1)`` on the shapes ``r`` and ``s``, wide ``LogNormal(0, 3)``
    on the scales ``alpha`` and ``beta`` (in the time unit).
    """

    name = "pareto_nbd"
    title = "Pareto/NBD"
    story = ("Pareto/NBD (Schmittlein, Morrison & Colombo 1987): while active, customer i buys "
             "at rate lambda_i ~ Gamma(r, alpha); they stay for an exponential lifetime with "
             "their own dropout rate mu_i ~ Gamma(s, beta), leaving at any time, independently "
             "of their purchases.")
    kernel = kernels.PARETO_NBD
    params = ("r", "alpha", "s", "beta")
    default_priors = {
        "r": Prior("LogNormal", mu=0, sigma=1),
        "alpha": Prior("LogNormal", mu=0, sigma=3),
        "s": Prior("LogNormal", mu=0, sigma=1),
        "beta": Prior("LogNormal", mu=0, sigma=3),
    }
    likelihood = Likelihood(pointwise=pareto_nbd_logp, total=pareto_nbd_loglike)
    #: alpha_i = alpha exp(-x_i'g_purchase), beta_i = beta exp(-x_i'g_dropout): as CLVTools and
    #: pymc-marketing, so a positive purchase coefficient means buying more often (E[lambda_i] =
    #: r / alpha_i) and a positive dropout coefficient leaving sooner (E[mu_i] = s / beta_i).
    covariate_links = {"purchase": ("alpha", -1.0), "dropout": ("beta", -1.0)}
    dropout_kind = "lifetime"
    expectations = PurchaseExpectations(
        p_alive=ex.pareto_nbd_p_alive,
        expected_purchases=ex.pareto_nbd_expected_purchases,
        expected_purchases_alive=ex.pareto_nbd_expected_purchases_alive,
        expected_purchases_new=ex.pareto_nbd_expected_purchases_new,
        prob_purchases=ex.pareto_nbd_prob_purchases,
    )
