"""Paths of the project, defined once.

``data/raw`` is immutable; everything under ``data/processed`` and ``reports`` can be rebuilt.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# The project root is the folder above the package in a source checkout; CLVLIB_ROOT overrides it
# (for example when clvlib is installed as a wheel and the data lives elsewhere).
PROJECT_ROOT = Path(os.environ.get("CLVLIB_ROOT", PACKAGE_DIR.parent)).resolve()
RAW_DATA_DIR = PROJECT_ROOT / "data" / "raw"
PROCESSED_DATA_DIR = PROJECT_ROOT / "data" / "processed"
FIT_CACHE_DIR = PROCESSED_DATA_DIR / "fits"  # fits reused by reports when nothing has changed
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
PIPELINE_DIR = NOTEBOOKS_DIR / "pipeline"
REPORTS_DIR = PROJECT_ROOT / "reports"
PARAMS_DIR = PACKAGE_DIR / "params"
TEMPLATES_DIR = PACKAGE_DIR / "templates"


def smoke_mode() -> bool:
    """Return True when ``CLVLIB_SMOKE`` asks for the quick, low-draw mode used by the tests."""
    return os.environ.get("CLVLIB_SMOKE", "").strip().lower() in {"1", "true", "yes", "on"}
