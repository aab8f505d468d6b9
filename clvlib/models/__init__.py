"""The model registry: one dict of models, one lookup that fails with the valid names; and what
a researcher needs to write a model of their own (README, "Write your own model").

Every model module (``bg_nbd.py``, ``pareto_nbd.py``, ...) holds everything about its model, in
this order: its likelihood (PyTensor: each customer row in the notation of its paper, and for
some a faster weighted total over compressed rows), its closed forms (NumPy, broadcasting over
parameter draws and customers), its simulators and a customer's future given alive, and its
declaration (the model class: parameters, priors, covariate links and, where it has one, the
compiled kernel that accelerates its fits).
"""

from __future__ import annotations

from pathlib import Path

from clvlib.futures import FutureGivenAlive
from clvlib.models.base import (
    CLVModel,
    Lifetimes,
    Likelihood,
    Mixing,
    PurchaseExpectations,
    PurchaseModel,
)
from clvlib.models.bdw import BetaDiscreteWeibullModel
from clvlib.models.bg_bb import BetaGeoBetaBinomModel
from clvlib.models.bg_nbd import BetaGeoModel
from clvlib.models.cnbd_k import CNBDModel, choose_k, class_named, model_class
from clvlib.models.fit_cache import fit_config, read_fit_file
from clvlib.models.gamma_gamma import GammaGammaModel
from clvlib.models.ggompertz_nbd import GGompertzNBDModel
from clvlib.models.mbg_nbd import ModifiedBetaGeoModel
from clvlib.models.pareto_ggg import ParetoGGGModel
from clvlib.models.pareto_nbd import ParetoNBDModel
from clvlib.models.pareto_nbd_abe import ParetoNBDAbeModel
from clvlib.models.pareto_nbd_tv import ParetoNBDTimeVaryingModel
from clvlib.models.samplers import FitSettings
from clvlib.models.sbg import ContractForms, ShiftedBetaGeoModel
from clvlib.models.verify import ModelCheck, check_model

MODELS: dict[str, type[CLVModel]] = {
    m.name: m for m in (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel, ParetoNBDAbeModel,
                        GGompertzNBDModel, ParetoGGGModel,
                        model_class(2), model_class(2, dropout_at_zero=True),
                        GammaGammaModel, BetaGeoBetaBinomModel, ShiftedBetaGeoModel,
                        BetaDiscreteWeibullModel)
}


def get_model(name: str) -> type[CLVModel]:
    """The model class registered as ``name`` (``"bg_nbd"``, ``"pareto_nbd"``, ...), or a
    regularity model of any ``k`` (``"bg_cnbd_3"``, ``"mbg_cnbd_4"``)."""
    if name not in MODELS:
        regular = class_named(name)
        if name == ParetoNBDTimeVaryingModel.name:
            raise KeyError(f"{name!r} needs a calendar: build it as "
                           "clvlib.ParetoNBDTimeVaryingModel(summary, calendar, ...)")
        if regular is None:
            raise KeyError(f"unknown model {name!r}; valid names: {', '.join(MODELS)} "
                           "(the regularity models take any k: bg_cnbd_<k>, mbg_cnbd_<k>)")
        return regular
    return MODELS[name]


def load_model(path: str | Path, data, calendar=None) -> CLVModel:
    """Rebuild a fitted model from a file written by :meth:`CLVModel.save` and its data
    (with the covariates, their coding and the group it was fitted with); a fit of the
    time-varying Pareto/NBD also needs the :class:`~clvlib.time_varying.CovariateCalendar` it
    was fitted with (another calendar is other data, refused)."""
    config = fit_config(read_fit_file(path), path)
    if config["model"] == ParetoNBDTimeVaryingModel.name:
        if calendar is None:
            raise ValueError(f"{path}: holds a fit of the {ParetoNBDTimeVaryingModel.title[:-1]}"
                             "); give the calendar it was fitted with: "
                             "load_model(path, summary, calendar=calendar)")
        covariates = config["calendar"]
        model = ParetoNBDTimeVaryingModel(
            data, calendar, priors=config["priors"],
            purchase_covariates=covariates["purchase_covariates"],
            dropout_covariates=covariates["dropout_covariates"])
    else:
        model = get_model(config["model"])(data, priors=config["priors"],
                                           **CLVModel.options_from_config(config))
    return model.load_fit(path)


__all__ = [
    "MODELS", "BetaDiscreteWeibullModel", "BetaGeoBetaBinomModel", "BetaGeoModel", "CLVModel",
    "CNBDModel", "Lifetimes", "Mixing", "choose_k", "model_class",
    "ContractForms", "FitSettings", "FutureGivenAlive", "Likelihood", "ModelCheck",
    "PurchaseExpectations", "check_model", "GGompertzNBDModel", "GammaGammaModel",
    "ModifiedBetaGeoModel", "ParetoGGGModel", "ParetoNBDAbeModel", "ParetoNBDModel",
    "ParetoNBDTimeVaryingModel",
    "PurchaseModel",
    "ShiftedBetaGeoModel", "get_model", "load_model",
]
