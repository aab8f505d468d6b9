"""Paths clvlib reads and writes, defined once.

Everything clvlib needs at run time ships inside the package (so a wheel works from any folder):
the bundled data sets (``clvlib/data``, immutable and checksummed), the report pipeline's
notebooks (``clvlib/pipeline``), parameter files and report templates. In a source checkout,
``data/raw`` and ``notebooks/pipeline`` are links to the first two.

What clvlib writes is rebuildable: the fit cache goes to ``$CLVLIB_FIT_CACHE`` when set, else
``data/processed/fits`` of the source checkout clvlib runs from, else the user's cache folder
(``$XDG_CACHE_HOME/clvlib/fits``, by default ``~/.cache/clvlib/fits``).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DATA_DIR = PACKAGE_DIR / "data"
PIPELINE_DIR = PACKAGE_DIR / "pipeline"
PARAMS_DIR = PACKAGE_DIR / "params"
TEMPLATES_DIR = PACKAGE_DIR / "templates"


def _source_root() -> Path | None:
    """The source checkout holding this package (an editable install), or None (a wheel)."""
    root = PACKAGE_DIR.parent
    if (root / "pyproject.toml").is_file() and (root / "clvlib" / "__init__.py").is_file():
        return root
    return None


SOURCE_ROOT = _source_root()


def _fit_cache_dir() -> Path:
    if os.environ.get("CLVLIB_FIT_CACHE"):
        return Path(os.environ["CLVLIB_FIT_CACHE"]).resolve()
    if SOURCE_ROOT is not None:
        return SOURCE_ROOT / "data" / "processed" / "fits"
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "clvlib" / "fits"


FIT_CACHE_DIR = _fit_cache_dir()  # fits reused by reports when nothing has changed

#: A pipeline notebook that finds the report cannot go on (data that cannot identify a model)
#: writes its reason into this file in its working folder (clvlib.notebook.end_report); the
#: report runner then starts no later step and renders what ran.
REPORT_END_FILE = ".clvlib-report-end"


#: The NUTS settings of smoke mode (the report's and the lessons'): enough draws to run every
#: cell, few enough to run the test suite in minutes.
SMOKE_SAMPLING = {"draws": 100, "tune": 150, "chains": 2}


def smoke_mode() -> bool:
    """Return True when ``CLVLIB_SMOKE`` asks for the quick, low-draw mode used by the tests."""
    return os.environ.get("CLVLIB_SMOKE", "").strip().lower() in {"1", "true", "yes", "on"}
