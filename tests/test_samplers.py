"""The MAP fit of a model without a compiled kernel: PyTensor's Python linker, no compilation
(clvlib.models.samplers.PYTHON_MODE). Its optima are held to published numbers in the models'
own tests (GGompertz/NBD, Abe, BG/BB, sBG, BdW); here, what is written by hand for it: the
split of wide sums, the refusal of a density the optimizer could not evaluate, and the warning
when it stops short of the mode."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from tqdm import tqdm

from clvlib.models.samplers import PYTHON_MODE, _maximize


def test_map_mode_evaluates_sums_and_products_wider_than_numpy_takes():
    # NumPy's ufuncs take at most 32 operands; the Abe model's gradient holds a 32-term sum
    xs = [pt.dscalar(f"x{i}") for i in range(70)]
    total = pt.add(*[x ** 2 for x in xs])
    product = pt.mul(*xs)
    fn = pytensor.function(xs, [total, product, *pytensor.grad(product, xs[:2])], mode=PYTHON_MODE)
    values = np.linspace(0.5, 1.5, 70)
    got = fn(*values)
    assert got[0] == pytest.approx(np.sum(values ** 2), rel=1e-14)
    assert got[1] == pytest.approx(np.prod(values), rel=1e-13)
    assert got[2] == pytest.approx(np.prod(values[1:]), rel=1e-13)
    assert got[3] == pytest.approx(np.prod(values) / values[1], rel=1e-13)
    assert max(len(node.inputs) for node in fn.maker.fgraph.apply_nodes) < 32


def test_map_refuses_a_density_it_cannot_evaluate_rather_than_return_the_start():
    """L-BFGS-B stops at once on a gradient that is not finite and returns where it stands,
    the start: a Pareto/GGG customer who bought on the last day did this to the CDNOW sample's
    MAP fit, which came back at its starting point without a word."""
    bar = tqdm(file=io.StringIO())
    center = np.array([1.0, -2.0])

    def quadratic(y):
        return -float(np.sum((y - center) ** 2)), -2 * (y - center)

    np.testing.assert_allclose(_maximize(quadratic, np.zeros(2), bar), center, atol=1e-6)
    assert bar.n > 1  # each evaluation counted on the bar

    def broken(y):
        return quadratic(y)[0], np.array([np.nan, 1.0])

    with pytest.raises(FloatingPointError, match="gradient .*nan.*check_model"):
        _maximize(broken, np.zeros(2), tqdm(disable=True))


def test_map_warns_when_the_optimizer_stops_short_of_the_mode():
    """Rosenbrock's banana (its mode at (1, 1), a narrow curved valley) in 3 iterations stops
    far from the mode: a warning names the iterations and the gradient still there. A quadratic
    that converges gives none."""
    bar = tqdm(disable=True)

    def banana(y):
        a, b = y
        logp = -((1 - a) ** 2 + 100 * (b - a**2) ** 2)
        return logp, np.array([2 * (1 - a) + 400 * a * (b - a**2), -200 * (b - a**2)])

    with pytest.warns(RuntimeWarning, match=r"stopped after 3 iterations .*gradient is still"):
        y = _maximize(banana, np.array([-1.2, 1.0]), bar, max_iterations=3)
    assert np.max(np.abs(y - 1)) > 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(_maximize(banana, np.array([-1.2, 1.0]), bar), [1, 1],
                                   atol=1e-4)
