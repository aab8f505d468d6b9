"""Checks of a model's one definition: what a researcher runs after writing a likelihood.

A model's likelihood is written once, in PyTensor, in the model's module (``logp``, one value
per customer row). Everything a fit needs follows from it: NUTS and MAP take PyTensor's
automatic gradient, model comparison evaluates it per row. :func:`check_model` checks that
definition at points drawn around the prior's centre:

- every row's log-likelihood is finite;
- the weighted total the fit uses equals the sum of the per-row values (when the model writes
  a faster ``total`` of its own, or has a compiled kernel);
- the gradient of the log posterior (PyTensor's automatic one, and a compiled kernel's
  hand-written one) equals central finite differences of the log posterior itself;
- a compiled kernel's log posterior equals the PyMC graph's.

Finite differences are written here rather than taken from a library: SciPy's
``check_grad`` returns one norm for one point and hides which parameter is wrong; this names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ModelCheck:
    """What :func:`check_model` found.

    Attributes
    ----------
    model : str
        The model's title.
    points : int
        How many parameter points were checked.
    total_error : float
        Largest relative difference between the total the fit uses and the sum of the rows.
    gradient_error : float
        Largest error of the automatic gradient against finite differences, relative to
        ``1 + |gradient|``.
    kernel_error : float or None
        Largest relative difference of the compiled kernel's log posterior and gradient from
        the PyMC graph's (None without a kernel).
    problems : list of str
        Each failed check, with the parameter and the point.
    """

    model: str
    points: int
    total_error: float = 0.0
    gradient_error: float = 0.0
    kernel_error: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> ModelCheck:
        """Raise AssertionError naming every problem; return self when there is none."""
        if self.problems:
            raise AssertionError(f"{self.model}: " + "; ".join(self.problems))
        return self

    def __str__(self) -> str:
        kernel = ("no compiled kernel" if self.kernel_error is None
                  else f"kernel vs graph {self.kernel_error:.1e}")
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        return (f"{self.model}: {verdict} at {self.points} points (total vs rows "
                f"{self.total_error:.1e}, gradient vs finite differences "
                f"{self.gradient_error:.1e}, {kernel})")


def check_model(model, *, n_points: int = 5, spread: float = 0.5, seed: int = 0,
                tolerance: float = 1e-5) -> ModelCheck:
    """Check a model's likelihood, gradients and kernel against its one definition.

    Parameters
    ----------
    model : CLVModel
        A model built on data (its rows are the ones checked).
    n_points : int
        Parameter points: the prior's centre (where MAP starts) moved by ``Normal(0, spread)``
        on the unconstrained scale.
    spread : float
        How far the points move from the centre.
    seed : int
        Seed of the points.
    tolerance : float
        Largest relative error accepted for the gradient against central differences (their
        own error is about 1e-8 with the steps used); the total and kernel must agree to 1e-9.

    Returns
    -------
    ModelCheck
        Call ``.raise_for_problems()`` in a test.

    Examples
    --------
    >>> check_model(clvlib.BetaGeoModel(summary)).raise_for_problems()  # doctest: +SKIP
    """
    import pytensor
    import pytensor.tensor as pt

    from clvlib.models.density import compiled_density
    from clvlib.models.samplers import PYTHON_MODE

    pymc_model = model.build()
    # evaluated a few times each: PyTensor's Python linker, nothing compiled (as fit("map"))
    logp_fn = pymc_model.compile_logp(mode=PYTHON_MODE)
    dlogp_fn = pymc_model.compile_dlogp(mode=PYTHON_MODE)
    start = pymc_model.initial_point()
    names = [v.name for v in pymc_model.value_vars]
    shapes = [np.shape(start[n]) for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    centre = np.concatenate([np.ravel(start[n]) for n in names]).astype(float)

    def point(y):
        parts = np.split(y, np.cumsum(sizes)[:-1])
        return {n: p.reshape(s) for n, p, s in zip(names, parts, shapes, strict=True)}

    def logp(y):
        return float(logp_fn(point(y)))

    labels = [f"{n}[{i}]" if size > 1 else n for n, size in zip(names, sizes, strict=True)
              for i in range(size)]
    check = ModelCheck(model.title, n_points)
    rng = np.random.default_rng(seed)
    rows = model.rows
    row_data = {c: np.asarray(rows[c], dtype=float) for c in model.columns}
    # Each variable as a function of the unconstrained values (r = exp(r_log__), ...): the
    # random variables themselves would be fresh draws from the prior at every call.
    constrained = pymc_model.compile_fn(
        pymc_model.replace_rvs_by_values([pymc_model[name] for name in model.variables]),
        inputs=pymc_model.value_vars, on_unused_input="ignore", mode=PYTHON_MODE)
    symbolic = {k: (pt.dscalar if np.ndim(v) == 0 else pt.dvector)(k)
                for k, v in zip(model.variables, constrained(start), strict=True)}
    pointwise = pytensor.function(list(symbolic.values()), model.row_loglike(symbolic, rows),
                                  on_unused_input="ignore", mode=PYTHON_MODE)
    total = pytensor.function(list(symbolic.values()), model.loglike(symbolic, rows),
                              on_unused_input="ignore", mode=PYTHON_MODE)
    density = compiled_density(model)
    kernel_errors = []
    for _ in range(n_points):
        # Away from the centre: equal priors put Pareto/NBD's alpha and beta equal there, where
        # its likelihood has a kink (|alpha - beta|) and only one-sided derivatives.
        y = centre + rng.normal(0, spread, centre.size)
        values = dict(zip(model.variables, constrained(point(y)), strict=True))
        args = [np.asarray(values[name], dtype=float) for name in symbolic]
        per_row = np.asarray(pointwise(*args), dtype=float)
        bad = ~np.isfinite(per_row)
        if bad.any():
            first = {c: row_data[c][np.argmax(bad)] for c in row_data}
            check.problems.append(f"{int(bad.sum())} row(s) have a log-likelihood that is not "
                                  f"finite at {_show(values)}; the first: {first}")
            continue
        summed = float(np.sum(rows.weights * per_row))
        given = float(total(*args))
        err = abs(given - summed) / max(1.0, abs(summed))
        check.total_error = max(check.total_error, err)
        if err > 1e-9:
            check.problems.append(f"the total ({given:.10g}) differs from the sum of the rows "
                                  f"({summed:.10g}) at {_show(values)}")
        grad = np.asarray(dlogp_fn(point(y)), dtype=float)
        numeric = _central_differences(logp, y)
        errors = np.abs(grad - numeric) / (1.0 + np.abs(numeric))
        errors[~np.isfinite(errors)] = np.inf  # a NaN gradient is an error, not a pass
        check.gradient_error = max(check.gradient_error, float(errors.max()))
        for i in np.flatnonzero(errors > tolerance):
            check.problems.append(f"d logp / d {labels[i]} is {grad[i]:.8g} by the automatic "
                                  f"gradient, {numeric[i]:.8g} by finite differences, at "
                                  f"{_show(values)}")
        if density is not None:
            # The kernel orders the same unconstrained values by its own list of names.
            pieces = dict(zip(names, np.split(np.arange(y.size), np.cumsum(sizes)[:-1]),
                              strict=True))
            order = np.concatenate([pieces[n] for n in density.value_names])
            value, kgrad = density.logp_and_grad(y[order])
            expected = logp(y)
            errs = [abs(value - expected) / max(1.0, abs(expected)),
                    float(np.max(np.abs(kgrad - grad[order]) / (1.0 + np.abs(grad[order]))))]
            errs = [e if np.isfinite(e) else np.inf for e in errs]
            kernel_errors.append(max(errs))
            if max(errs) > 1e-9:
                check.problems.append(f"the compiled kernel's log posterior or gradient "
                                      f"differs from the PyMC graph's by {max(errs):.1e} at "
                                      f"{_show(values)}")
    if density is not None and kernel_errors:
        check.kernel_error = max(kernel_errors)
    return check


def _central_differences(f, y: np.ndarray) -> np.ndarray:
    """Fourth-order central differences of ``f`` at ``y``, one coordinate at a time."""
    out = np.empty_like(y)
    for i in range(y.size):
        h = 1e-3 * max(1.0, abs(y[i]))
        e = np.zeros_like(y)
        e[i] = h
        out[i] = (-f(y + 2 * e) + 8 * f(y + e) - 8 * f(y - e) + f(y - 2 * e)) / (12 * h)
    return out


def _show(values: dict) -> str:
    parts = []
    for k, v in values.items():
        v = np.asarray(v)
        parts.append(f"{k}={float(v):.4g}" if v.ndim == 0 else
                     f"{k}=[{', '.join(f'{u:.3g}' for u in v.ravel())}]")
    return ", ".join(parts)


__all__ = ["ModelCheck", "check_model"]
