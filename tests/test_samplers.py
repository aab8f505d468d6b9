"""The MAP fit of a model without a compiled kernel: PyTensor's Python linker, no compilation
(clvlib.models.samplers.PYTHON_MODE). Its optima are held to published numbers in the models'
own tests (GGompertz/NBD, Abe, BG/BB, sBG, BdW); here, the one thing written by hand for it."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from clvlib.models.samplers import PYTHON_MODE


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
