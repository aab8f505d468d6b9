"""Stand-in notebooks for the report runner's tests: what they print, and how they are written.

A module of its own (not the conftest) so that tests import it by a name no other module has:
the repository's root has a conftest.py too.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

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


def make_notebook(path: Path, cells: list[tuple[str, str]], after: list[str] | None = None
                  ) -> Path:
    """Write a notebook of ``(kind, source)`` cells; kind is code, markdown or parameters.
    ``after``: the steps it comes after (metadata ``clvlib.after``; by default all earlier)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python",
    }
    if after is not None:
        nb.metadata["clvlib"] = {"after": after}
    for kind, source in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        elif kind == "parameters":
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]}))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(nb, path)
    return path
