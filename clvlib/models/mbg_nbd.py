"""MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007)."""

from __future__ import annotations

from clvlib import expectations as ex
from clvlib.likelihoods import mbg_nbd_loglike, mbg_nbd_logp
from clvlib.models import kernels
from clvlib.models.base import Likelihood, PurchaseExpectations, PurchaseModel
from clvlib.models.beta_geo import BetaGeoModel


class ModifiedBetaGeoModel(PurchaseModel):
    """MBG/NBD: BG/NBD where customers may also drop out right after their first purchase.

    This removes BG/NBD's assumption that customers without a repeat purchase are certainly
    alive. Parameters and default priors are those of :class:`BetaGeoModel`.
    """

    name = "mbg_nbd"
    title = "MBG/NBD"
    story = ("MBG/NBD (Batislam, Denizel & Filiztekin 2007): as BG/NBD (lambda_i ~ Gamma(r, "
             "alpha), p_i ~ Beta(a, b)), but a customer may also leave right after the first "
             "purchase, so one who never bought again may be gone.")
    kernel = kernels.MBG_NBD
    params = BetaGeoModel.params
    default_priors = BetaGeoModel.default_priors
    likelihood = Likelihood(pointwise=mbg_nbd_logp, total=mbg_nbd_loglike)
    #: The links of :class:`BetaGeoModel` (alpha for purchases, a for dropout).
    covariate_links = BetaGeoModel.covariate_links
    expectations = PurchaseExpectations(
        p_alive=ex.mbg_nbd_p_alive,
        expected_purchases=ex.mbg_nbd_expected_purchases,
        expected_purchases_alive=ex.mbg_nbd_expected_purchases_alive,
        expected_purchases_new=ex.mbg_nbd_expected_purchases_new,
        prob_purchases=ex.mbg_nbd_prob_purchases,
    )
