"""The Laplace approximation of a posterior: :func:`normal_draws`, which ``model.fit("laplace")``
draws from at the mode of the unconstrained density (:func:`clvlib.models.samplers.fit_laplace`),
and a MAP fit's posterior spread, to judge identification.

A MAP fit is one point: it says nothing of how much the data pinned each parameter, and on data
that cannot identify a model (one customer; no repeat buyers) it returns the prior's mode as
confidently as a real estimate. :func:`laplace_draws` approximates the posterior around the mode
by a normal distribution on the unconstrained scale (``log`` of a positive parameter), whose
precision is the negative Hessian of the log density there (its log-Jacobian included, so it is
the density of the unconstrained variables); :func:`clvlib.diagnostics.identification` compares
draws from it with the prior as it does for NUTS draws.

The Hessian comes from central differences of an exact gradient: the model's compiled density's
(:mod:`clvlib.models.density`), in milliseconds, or else the gradient of the model's PyMC
graph, evaluated uncompiled.
"""

from __future__ import annotations

import numpy as np

#: Relative step of the central differences of the gradient.
STEP = 1e-5


def _precision(gradient, y: np.ndarray) -> np.ndarray:
    """Minus the Hessian at ``y``, by central differences of the exact ``gradient(y)``."""
    n = y.size
    hessian = np.empty((n, n))
    for i in range(n):
        h = STEP * max(1.0, abs(y[i]))
        up, down = y.copy(), y.copy()
        up[i] += h
        down[i] -= h
        hessian[:, i] = (gradient(up) - gradient(down)) / (2 * h)
    return -(hessian + hessian.T) / 2


def normal_draws(gradient, centre: np.ndarray, n: int, rng) -> np.ndarray | None:
    """``(n, len(centre))`` draws of the normal distribution at ``centre`` whose precision is
    minus the Hessian of the log density there (central differences of its ``gradient``);
    None when that Hessian is not negative definite (no normal approximation exists)."""
    try:
        chol = np.linalg.cholesky(_precision(gradient, centre))
    except np.linalg.LinAlgError:
        return None
    z = rng.standard_normal((n, centre.size))
    return centre + np.linalg.solve(chol.T, z.T).T


def _unconstrained_mode(mode: dict, density) -> np.ndarray:
    """The ``mode``'s values on the density's unconstrained scale: ``log(theta - shift)`` for
    a positive variable, ``theta`` for a real one (the inverse of ``density.values``)."""
    from clvlib.models import kernels

    flat = np.concatenate([np.ravel(mode[name]) for name in density.variables])
    width, n = kernels.PRIOR_WIDTH, density.start.size
    rows = density.buffer[kernels.HEADER:kernels.HEADER + width * n]
    kind, shift = rows[0::width], rows[3::width]
    return np.where(kind >= kernels.UNBOUNDED, flat, np.log(np.maximum(flat - shift, 1e-300)))


def laplace_draws(model, n: int = 4000, seed: int = 0) -> dict[str, np.ndarray] | None:
    """Draws of the model's variables from the Laplace approximation at its MAP fit.

    Returns
    -------
    dict of str to ndarray, or None
        ``(n,)`` or ``(n, K)`` draws of each variable; None when the log density is not
        curved downwards at the mode in every direction (the data and priors leave some
        direction unbounded: nothing is identified there).
    """
    from clvlib.models.density import compiled_density

    mode = {k: v[0] for k, v in model.posterior_draws().items()}
    density = compiled_density(model)
    rng = np.random.default_rng(seed)
    if density is not None:
        y = normal_draws(lambda at: density.logp_and_grad(at)[1],
                         _unconstrained_mode(mode, density), n, rng)
        if y is None:
            return None
        out: dict[str, list] = {name: [] for name in density.variables}
        for row in y:
            for name, value in density.values(row).items():
                out[name].append(value)
        return {k: np.asarray(v) for k, v in out.items()}
    return _laplace_by_pymc(model, mode, n, rng)


def _laplace_by_pymc(model, mode: dict, n: int, rng) -> dict[str, np.ndarray] | None:
    """:func:`laplace_draws` through the gradient of the model's PyMC graph (uncompiled)."""
    pymc_model = model.build()
    point, sizes, transforms = {}, [], []
    for rv in pymc_model.free_RVs:
        value = pymc_model.rvs_to_values[rv]
        x = np.asarray(mode[rv.name], dtype=float)
        transform = pymc_model.rvs_to_transforms.get(rv)
        y = transform.forward(x, *rv.owner.inputs).eval() if transform is not None else x
        point[value.name] = np.asarray(y, dtype=float)
        sizes.append((rv, value.name, np.asarray(y).shape))
        transforms.append(transform)
    names = [v.name for v in pymc_model.continuous_value_vars]
    centre = np.concatenate([np.ravel(point[name]) for name in names])
    # Central differences of the gradient: PyMC's symbolic Hessian of a quadrature likelihood
    # takes minutes to build and compile (93 s for Pareto/NBD with time-varying covariates on
    # 3,000 customers), the 2 x variables gradients little. Uncompiled, as the MAP fit before
    # it (clvlib.models.samplers.PYTHON_MODE): a few dozen evaluations do not repay numba's
    # compilation.
    from clvlib.models.samplers import PYTHON_MODE

    dlogp = pymc_model.compile_dlogp(jacobian=True, mode=PYTHON_MODE)
    cuts = np.cumsum([point[name].size for name in names])[:-1]

    def gradient(y):
        parts = np.split(y, cuts)
        return np.asarray(dlogp({name: part.reshape(point[name].shape)
                                 for name, part in zip(names, parts, strict=True)}))

    y = normal_draws(gradient, centre, n, rng)
    if y is None:
        return None
    out, at = {}, 0
    by_value = {name: (rv, shape, tr) for (rv, name, shape), tr in zip(sizes, transforms,
                                                                        strict=True)}
    for name in names:
        rv, shape, transform = by_value[name]
        size = int(np.prod(shape))
        block = y[:, at:at + size].reshape((n, *shape))
        at += size
        values = (transform.backward(block, *rv.owner.inputs).eval() if transform is not None
                  else block)
        out[rv.name] = np.asarray(values, dtype=float)
    return out
