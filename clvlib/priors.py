"""Priors as data: a distribution name and its parameters, stored with every fit.

Examples
--------
>>> Prior("LogNormal", mu=0, sigma=1)
Prior('LogNormal', mu=0, sigma=1)
>>> str(Prior.from_dict({"dist": "HalfFlat"}))
'HalfFlat()'
>>> str(Prior("LogNormal", mu=0, sigma=3, shift=1))
'1 + LogNormal(mu=0, sigma=3)'
"""

from __future__ import annotations

import inspect

import numpy as np
import pymc as pm
from scipy import special

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
    shift : float, optional
        A constant added to the distribution: ``shift=1`` on a positive distribution keeps the
        parameter above 1 (the Gamma-Gamma ``q``, whose population mean spend needs q > 1).
        The model then holds ``<name>_excess`` (the distribution) and ``<name>`` (shift plus it).
    **params : float
        The distribution's parameters, as PyMC names them (``mu``, ``sigma``, ``alpha`` ...).
    """

    def __init__(self, dist: str, *, shift: float = 0.0, **params: float):
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
        self.shift = float(shift)
        self.params = {k: float(v) for k, v in params.items()}

    def create(self, name: str, dims: str | None = None):
        """Create the PyMC random variable ``name`` (inside a model context); ``dims`` names
        the model coordinate of an indexed variable (a coefficient per covariate)."""
        extra = {} if dims is None else {"dims": dims}
        if not self.shift:
            return PRIOR_DISTRIBUTIONS[self.dist](name, **extra, **self.params)
        excess = PRIOR_DISTRIBUTIONS[self.dist](f"{name}_excess", **extra, **self.params)
        return pm.Deterministic(name, self.shift + excess, **extra)

    @property
    def is_proper(self) -> bool:
        """Whether the prior is a probability distribution one can draw from (not flat)."""
        return self.dist not in ("Flat", "HalfFlat")

    def draw(self, n: int, seed: int = 0):
        """``n`` draws from the prior (shift included), as a NumPy array.

        Raises
        ------
        ValueError
            For a flat prior, which has no draws.
        """
        if not self.is_proper:
            raise ValueError(f"a {self.dist} prior is improper: it has no draws")
        dist = PRIOR_DISTRIBUTIONS[self.dist].dist(**self.params)
        return self.shift + pm.draw(dist, draws=n, random_seed=seed)

    def unbounded(self, values):
        """``values`` on the unbounded scale the sampler works on (PyMC's default value
        transform): the log of a positive distribution's excess over ``shift``, the log-odds
        within a Beta's or a Uniform's bounds, a Normal's or a Flat's values as they are."""
        values = np.asarray(values, dtype=float) - self.shift
        if self.dist in ("Normal", "Flat"):
            return values
        if self.dist in ("Beta", "Uniform"):
            lower, upper = self.params.get("lower", 0.0), self.params.get("upper", 1.0)
            return special.logit((values - lower) / (upper - lower))
        return np.log(values)

    def to_dict(self) -> dict:
        shift = {"shift": self.shift} if self.shift else {}
        return {"dist": self.dist, **shift, **self.params}

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
        shift = f", shift={self.shift:g}" if self.shift else ""
        return f"Prior({self.dist!r}{args}{shift})"

    def __str__(self) -> str:
        body = f"{self.dist}({', '.join(f'{k}={v:g}' for k, v in self.params.items())})"
        return f"{self.shift:g} + {body}" if self.shift else body
