"""Shared fixtures: tiny stand-in pipelines for the report runner and the command line.

The order and grouping of the test files under pytest-xdist is the root conftest.py's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from stand_ins import (
    NARRATIVE_ONE,
    NARRATIVE_TWO,
    PARAMETERS_ONE,
    PARAMETERS_TWO,
    make_notebook,
)


@pytest.fixture(scope="session")
def make_pipeline(tmp_path_factory):
    """Factory: ``make_pipeline(failing=False)`` returns a folder with two stand-in notebooks.

    The first prints markdown, a matplotlib figure, a table and a stderr line; the second prints
    markdown and, when ``failing``, raises ``ValueError`` in its second cell.
    """

    def make(failing: bool = False) -> Path:
        folder = tmp_path_factory.mktemp("failing_pipeline" if failing else "pipeline")
        make_notebook(
            folder / "01_first.ipynb",
            [("markdown", "# Stand-in part one"), ("parameters", PARAMETERS_ONE),
             ("code", NARRATIVE_ONE)],
        )
        second = [("parameters", PARAMETERS_TWO)]
        if failing:
            second.append(("code", 'raise ValueError("stand-in failure in the second cell")'))
        second.append(("code", NARRATIVE_TWO))
        make_notebook(folder / "02_second.ipynb", second)
        return folder

    return make


@pytest.fixture
def python_mode():
    """PyTensor functions compiled in the test without a mode of their own (``.eval()``,
    ``pytensor.function``, ``Model.compile_logp``) run in clvlib's Python mode
    (:data:`clvlib.models.samplers.PYTHON_MODE`) instead of PyTensor's default, numba.

    For tests that evaluate a graph at a few points to check a number: numba compiles each new
    graph before its first call, 3 to 16 s each on an empty cache (as on a fresh machine; the
    Pareto/NBD's hypergeometric gradient the longest), the Python mode in under 1.5 s. Both
    evaluate the same model graph, the Python mode after fewer rewrites (the tests that use it
    passed in both). Fits are unaffected: nutpie compiles with numba by name, clvlib's
    kernels are C. Not for a test that fits through PyMC itself (its NUTS or ``find_MAP``, as
    pymc-marketing's fits do): those compile the default mode, and a graph run op by op in
    Python costs every step (pymc-marketing's MAP of a covariate Pareto/NBD took 585 s in it
    against 23 s in numba)."""
    import pytensor

    from clvlib.models.samplers import PYTHON_MODE

    with pytensor.config.change_flags(mode=PYTHON_MODE):
        yield


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test drew (only where matplotlib's pyplot is in use)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
