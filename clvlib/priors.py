"""Priors as data: a distribution name and its parameters, stored with every fit.

Examples
--------
>>> Prior("LogNormal", mu=0, sigma=1)
Prior('LogNormal', mu=0, sigma=1)
>>> str(Prior.from_dict({"dist": "HalfFlat"}))
'HalfFlat()'
"""

from __future__ import annotations

import inspect

import pymc as pm

# The distributions a prior may use: positive-support ones for rates, shapes and scales, and
# Beta/Uniform for probabilities. One lookup, failing with the list of valid names.
PRIOR_DISTRIBUTIONS: dict[str, type[pm.Distribution]] = {
    "LogNormal": pm.LogNormal,
    "Gamma": pm.Gamma,
    "Weibull": pm.Weibull,
    "Exponential": pm.Exponential,
    "HalfNormal": pm.HalfNormal,
    "HalfStudentT": pm.HalfStudentT,
    "HalfCauchy": pm.HalfCauchy,
    "HalfFlat": pm.HalfFlat,
    "Beta": pm.Beta,
    "Uniform": pm.Uniform,
    "Normal": pm.Normal,
    "Flat": pm.Flat,
}


class Prior:
    """A prior distribution for one parameter.

    Parameters
    ----------
    dist : str
        A name from :data:`PRIOR_DISTRIBUTIONS`.
    **params : float
        The distribution's parameters, as PyMC names them (``mu``, ``sigma``, ``alpha`` ...).
    """

    def __init__(self, dist: str, **params: float):
        if dist not in PRIOR_DISTRIBUTIONS:
            raise ValueError(
                f"unknown prior distribution {dist!r}; valid: {', '.join(PRIOR_DISTRIBUTIONS)}"
            )
        accepted = set(inspect.signature(PRIOR_DISTRIBUTIONS[dist].dist).parameters) - {
            "args", "kwargs", "kwds"
        }
        unknown = set(params) - accepted
        if unknown:
            raise ValueError(
                f"{dist} prior: unknown parameter(s) {sorted(unknown)}; "
                f"accepted: {sorted(accepted)}"
            )
        self.dist = dist
        self.params = {k: float(v) for k, v in params.items()}

    def create(self, name: str, dims: str | None = None):
        """Create the PyMC random variable ``name`` (inside a model context); ``dims`` names
        the model coordinate of an indexed variable (a coefficient per covariate)."""
        if dims is None:
            return PRIOR_DISTRIBUTIONS[self.dist](name, **self.params)
        return PRIOR_DISTRIBUTIONS[self.dist](name, dims=dims, **self.params)

    def to_dict(self) -> dict:
        return {"dist": self.dist, **self.params}

    @classmethod
    def from_dict(cls, spec: dict | Prior) -> Prior:
        """Build from ``{"dist": name, **params}`` (or pass a Prior through)."""
        if isinstance(spec, Prior):
            return spec
        spec = dict(spec)
        if "dist" not in spec:
            raise ValueError(f"prior {spec!r} needs a 'dist' key naming the distribution")
        return cls(spec.pop("dist"), **spec)

    def __eq__(self, other) -> bool:
        return isinstance(other, Prior) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.dist, tuple(sorted(self.params.items()))))

    def __repr__(self) -> str:
        args = "".join(f", {k}={v:g}" for k, v in self.params.items())
        return f"Prior({self.dist!r}{args})"

    def __str__(self) -> str:
        return f"{self.dist}({', '.join(f'{k}={v:g}' for k, v in self.params.items())})"
