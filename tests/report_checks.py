"""Checks of a finished report that several test files make (the default report's tables, a
report holding what its text announces), and the smoke report valued with a model of choice."""

from __future__ import annotations

import html as html_module
import json
import re
from pathlib import Path

from clvlib.config import PARAMS_DIR
from clvlib.rendering import announcement_problems

# The caption of every table the default report shows (each a section's text announces).
REPORT_TABLES = [
    "The customer summary in numbers", "Customers by the month of their first purchase (their",
    "Customers by relationship stage on", "The candidate models' forecasts of the holdout",
    "Customers in ten equal groups by expected CLV", "most valuable customers by expected CLV",
    "The strategy rule", "Strategy segments: customers", "lapsed customers most worth winning back",
    "A new customer, over their whole lifetime", "Customers by the month of their first purchase:",
    "The valuation's assumptions", "Customer-based corporate valuation",
    "Sensitivities of the operating value", "Posterior mean, standard deviation, R-hat",
    "Leave-one-out scores", "Holdout scores",
]


def assert_whole(out: Path) -> str:
    """The report in ``out`` holds every table and figure its text announces (and no empty
    heading): the runner's check in the manifest, and the check on the page itself. Returns
    the HTML."""
    html = (out / "report.html").read_text()
    assert announcement_problems(html) == []
    assert json.loads((out / "manifest.json").read_text())["announcement_problems"] == []
    prose = re.sub(r"<style.*?</style>|<[^>]+>", " ", html, flags=re.S)
    assert not re.search(r"\bnan\b", prose, flags=re.I)
    return html


def unescaped(html: str) -> str:
    """The HTML with its character references (``&#x27;``) turned back into characters."""
    return html_module.unescape(html)


def smoke_report_valued_with(value_model: str, candidates: list[str], tmp_path: Path,
                             monkeypatch) -> str:
    """Run the smoke report (CDNOW sample, 2 chains x 100 draws, fits not cached) with these
    candidate purchase models, valued with ``value_model``, from ``tmp_path``; check that it
    holds every table and figure its text announces and every table of the default report.
    Returns its HTML with character references turned back into characters."""
    import yaml

    from clvlib.report import run_report

    params = yaml.safe_load((PARAMS_DIR / "cdnow_smoke.yaml").read_text())
    params |= {"candidate_models": candidates, "value_model": value_model, "fit_cache": False}
    monkeypatch.chdir(tmp_path)
    html = unescaped(assert_whole(run_report(params, tmp_path / value_model, progress=print)))
    for caption in REPORT_TABLES:
        assert caption in html, caption
    return html
