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


def smoke_params() -> dict:
    """The smoke report's parameters (``cdnow_smoke.yaml``)."""
    import yaml

    return yaml.safe_load((PARAMS_DIR / "cdnow_smoke.yaml").read_text())


def fit_as_the_smoke_report(model, cache_dir: Path) -> None:
    """Fit ``model`` by NUTS as the smoke report fits its candidates (its sampling settings,
    target acceptance and seed) and save the fit in ``cache_dir``, where a smoke report run
    with ``fit_cache=cache_dir`` reads it back instead of sampling again."""
    from clvlib.config import SMOKE_SAMPLING

    model.fit("nuts", **SMOKE_SAMPLING, target_accept=0.8,
              random_seed=smoke_params()["random_seed"], progressbar=False, cache_dir=cache_dir)


def smoke_report_valued_with(value_model: str, candidates: list[str], tmp_path: Path,
                             monkeypatch, fit_cache: Path | None = None) -> str:
    """Run the smoke report (CDNOW sample, 2 chains x 100 draws) with these candidate purchase
    models, valued with ``value_model``, from ``tmp_path``; check that it holds every table and
    figure its text announces and every table of the default report. Fits are not cached,
    unless ``fit_cache`` names a folder of fits (:func:`fit_as_the_smoke_report`'s) to read
    back; a fit missing there is made and saved. Returns its HTML with character references
    turned back into characters."""
    from clvlib.report import run_report

    params = smoke_params() | {"candidate_models": candidates, "value_model": value_model,
                               "fit_cache": fit_cache is not None}
    if fit_cache is not None:  # the notebooks' kernels read it when they import clvlib
        monkeypatch.setenv("CLVLIB_FIT_CACHE", str(fit_cache))
    monkeypatch.chdir(tmp_path)
    html = unescaped(assert_whole(run_report(params, tmp_path / value_model, progress=print)))
    for caption in REPORT_TABLES:
        assert caption in html, caption
    return html
