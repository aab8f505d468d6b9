"""What every pipeline and teaching notebook does first, kept out of the notebooks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import matplotlib as mpl
import pandas as pd

from clvlib.config import REPORT_END_FILE, SMOKE_SAMPLING, smoke_mode


def setup_notebook() -> None:
    """Figure defaults legible in the PDF report, quiet library loggers, readable tables.

    Warnings are left alone: a RuntimeWarning (a NaN in a prediction) or a data warning must show
    in the notebook.
    """
    mpl.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (7.5, 4.0),
        "axes.spines.top": False, "axes.spines.right": False, "font.size": 10,
    })
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.run_line_magic("matplotlib", "inline")
            shell.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    except ImportError:  # running as a plain script
        pass
    for name in ("pymc", "pytensor", "arviz", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_columns", 20)


def sampling_settings(draws: int, tune: int, chains: int, smoke: bool) -> dict:
    """The NUTS settings to use: as given, or the smoke settings when ``smoke`` or CLVLIB_SMOKE."""
    if smoke or smoke_mode():
        return dict(SMOKE_SAMPLING)
    return {"draws": draws, "tune": tune, "chains": chains}


def show(markdown: str) -> None:
    """Display Markdown text as a notebook output (it becomes prose in the report)."""
    from IPython.display import Markdown, display

    display(Markdown(markdown))


#: What a table shows for a value that does not apply (NaN: R-hat of a Laplace fit).
NOT_APPLICABLE = "–"


def table(
    frame: pd.DataFrame,
    caption: str,
    *,
    precision: int = 3,
    formats: Mapping[str, str | Callable[[float], str]] | None = None,
    hide_index: bool = False,
) -> None:
    """Display a table in the report, wherever the call stands (inside an ``if`` too).

    Parameters as :func:`styled`, which builds it.
    """
    from IPython.display import display

    display(styled(frame, caption, precision=precision, formats=formats,
                   hide_index=hide_index))


def styled(
    frame: pd.DataFrame,
    caption: str,
    *,
    precision: int = 3,
    formats: Mapping[str, str | Callable[[float], str]] | None = None,
    hide_index: bool = False,
):
    """A DataFrame styled for the report: a caption that stays with it, thousands separators.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    caption : str
        Shown above it, and kept with it across page breaks.
    precision : int
        Decimals of the numbers in columns not named in ``formats``.
    formats : mapping of str to str or callable, optional
        Format strings (or functions of the value; NaN shows as :data:`NOT_APPLICABLE`
        whatever the format) for some columns, e.g.
        ``{"bulk ESS": "{:,.0f}"}``; names that are not columns of ``frame`` are ignored (a
        table without a holdout lacks the holdout columns).
    hide_index : bool
        Leave the index out.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    styler = frame.style.set_caption(caption).format(precision=precision, thousands=",",
                                                     na_rep=NOT_APPLICABLE)
    present = {name: fmt for name, fmt in (formats or {}).items() if name in frame.columns}
    if present:
        styler = styler.format(present, subset=list(present), na_rep=NOT_APPLICABLE)
    return styler.hide(axis="index") if hide_index else styler


def end_report(reason: str) -> None:
    """End the report after this notebook: say why, and tell the report runner to start no
    later step (:data:`clvlib.config.REPORT_END_FILE`). Call it as the notebook's last act."""
    show(f"**The report ends here.** {reason}")
    Path(REPORT_END_FILE).write_text(reason, encoding="utf-8")
