"""Checks of a finished report that several test files make (the default report's tables, a
report holding what its text announces)."""

from __future__ import annotations

import html as html_module
import json
import re
from pathlib import Path

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
