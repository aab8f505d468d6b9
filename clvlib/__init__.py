"""clvlib: Bayesian customer-lifetime-value models in PyMC, from transaction log to report.

The public surface is this file's ``__all__``. The flow is one call per arrow::

    log = clvlib.read_transactions("cdnow_sample")                  # validated transactions
    summary = clvlib.summarize(log, calibration_end="1997-09-30")   # x, t_x, T, monetary
    purchases = clvlib.BetaGeoModel(summary); purchases.fit()       # posterior draws
    spend = clvlib.GammaGammaModel(summary); spend.fit()
    clv = clvlib.customer_lifetime_value(purchases, spend, horizon=52)
"""

# Importing clvlib leaves the warning filters as they were: a warning is the user's to see.
from clvlib.compression import CompressedRows
from clvlib.config import smoke_mode
from clvlib.covariates import attach_covariates
from clvlib.datasets import DATASETS, load_dataset
from clvlib.diagnostics import Diagnostics, Identification
from clvlib.discounting import Discount
from clvlib.errors import CLVDataError
from clvlib.heterogeneity import covariate_effects, group_parameters, group_summary
from clvlib.models import (
    MODELS,
    BetaDiscreteWeibullModel,
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    CLVModel,
    FitSettings,
    GammaGammaModel,
    GGompertzNBDModel,
    ModifiedBetaGeoModel,
    ParetoGGGModel,
    ParetoNBDAbeModel,
    ParetoNBDModel,
    ParetoNBDTimeVaryingModel,
    ShiftedBetaGeoModel,
    get_model,
    load_model,
)
from clvlib.predict import Prediction, prediction_table
from clvlib.priors import Prior
from clvlib.scoring import score_customers
from clvlib.simulate import simulate_transactions
from clvlib.summary import CustomerSummary, check_summary, summarize
from clvlib.time_varying import CovariateCalendar
from clvlib.timeunits import TimeUnit
from clvlib.transactions import TransactionLog, read_transactions
from clvlib.value import customer_lifetime_value, decile_table, gini, lorenz_curve, top_share

__version__ = "0.2.0"

__all__ = [
    "DATASETS",
    "MODELS",
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "CLVDataError",
    "CLVModel",
    "CompressedRows",
    "CustomerSummary",
    "Diagnostics",
    "Discount",
    "FitSettings",
    "GammaGammaModel",
    "Identification",
    "ModifiedBetaGeoModel",
    "ParetoGGGModel",
    "ParetoNBDAbeModel",
    "ParetoNBDModel",
    "ParetoNBDTimeVaryingModel",
    "CovariateCalendar",
    "Prediction",
    "Prior",
    "ShiftedBetaGeoModel",
    "BetaDiscreteWeibullModel",
    "GGompertzNBDModel",
    "TimeUnit",
    "TransactionLog",
    "attach_covariates",
    "check_summary",
    "covariate_effects",
    "customer_lifetime_value",
    "decile_table",
    "get_model",
    "gini",
    "group_parameters",
    "group_summary",
    "load_dataset",
    "load_model",
    "lorenz_curve",
    "prediction_table",
    "read_transactions",
    "score_customers",
    "simulate_transactions",
    "smoke_mode",
    "summarize",
    "top_share",
]
