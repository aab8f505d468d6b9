"""Shared fixtures: tiny stand-in pipelines for the report runner and the command line.

The order and grouping of the test files under pytest-xdist is the root conftest.py's."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

SECRET_CODE = "stand_in_marker_in_code = 12345"

PARAMETERS_ONE = '''\
title: str = "Stand-in report"  # shown on the report's first line
data: str = "cdnow_sample"  # a registered data set or a CSV/Parquet path
random_seed: int = 7  # seed for everything random
n_points: int = 20  # points in the figure
'''

NARRATIVE_ONE = f'''\
import sys
import matplotlib
import matplotlib.pyplot as plt
from IPython.display import Markdown, display
import pandas as pd
{SECRET_CODE}
print("this goes to stderr and must not reach the report", file=sys.stderr)
text = f"## Stand-in overview\\n\\nWe drew **{{n_points}} points** with seed {{random_seed}}."
display(Markdown(text))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(range(n_points), [i * i for i in range(n_points)])
ax.set_title("Stand-in figure")
plt.show()
pd.DataFrame({{"customers": [1, 2], "value": [3.5, 4.25]}})
'''

PARAMETERS_TWO = '''\
horizon: float = 52.0  # weeks ahead
'''

NARRATIVE_TWO = '''\
from IPython.display import Markdown, display
assert "n_points" not in globals(), "a notebook must only get the parameters it declares"
display(Markdown(f"## Stand-in value\\n\\nThe horizon is {horizon:g} weeks."))
'''


def make_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """Write a notebook of ``(kind, source)`` cells; kind is code, markdown or parameters."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python",
    }
    for kind, source in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        elif kind == "parameters":
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]}))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, path)
    return path


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
