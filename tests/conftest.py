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


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test drew (only where matplotlib's pyplot is in use)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
