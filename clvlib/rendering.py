"""The report a reader sees: executed notebooks -> one self-contained HTML page -> an A4 PDF.

:func:`build_html` merges the executed notebooks into one document (nbconvert, code hidden)
keeping only what a reader should see (:func:`merge_notebooks`): no stderr, no widgets, no code
cell without output, cells tagged ``appendix`` moved to a closing "Technical appendix", and no
heading left without content (a section a run had nothing to say in, such as the value
sections of a count-only log). :func:`announcement_problems` checks the result: a section whose
text announces a table or a figure must contain one. :func:`build_pdf` renders it with
weasyprint.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from traitlets.config import Config

from clvlib import __version__ as clvlib_version
from clvlib.config import TEMPLATES_DIR
from clvlib.errors import ReportError

__all__ = ["announcement_problems", "build_html", "build_pdf", "external_resources",
           "merge_notebooks"]

DEFAULT_TITLE = "Customer lifetime value report"
WIDGET_MIMETYPES = (
    "application/vnd.jupyter.widget-view+json",
    "application/vnd.jupyter.widget-state+json",
)


def build_html(
    notebooks: list[str | os.PathLike],
    *,
    title: str = DEFAULT_TITLE,
    run_date: str = "",
    subtitle: str = "",
) -> str:
    """One self-contained HTML document from executed notebooks, in the given order.

    Code and prompts are hidden, stderr and widget outputs dropped, figures stay inline as
    base64 images, ``text/markdown`` outputs are rendered and the page carries the print CSS of
    ``clvlib/templates/report.css``. No script or external resource is referenced.

    Parameters
    ----------
    notebooks : list of path
        Executed notebooks.
    title, run_date, subtitle : str
        Shown in the header of the report.
    """
    merged = merge_notebooks([nbformat.read(str(p), as_version=4) for p in notebooks])
    exporter = HTMLExporter(config=_exporter_config())
    resources = {
        "clvlib": {
            "title": title,
            "run_date": run_date,
            "subtitle": subtitle,
            "version": clvlib_version,
            "notebooks": [Path(p).name for p in notebooks],
        }
    }
    html, _ = exporter.from_notebook_node(merged, resources=resources)
    external = external_resources(html)
    if external:
        raise ReportError(
            "report.html would load external resources, so it would not be self-contained: "
            + ", ".join(sorted(set(external))[:5])
        )
    return html


def _exporter_config() -> Config:
    config = Config()
    config.HTMLExporter.template_name = "basic"
    config.HTMLExporter.template_file = "report.html.j2"
    config.HTMLExporter.extra_template_paths = [str(TEMPLATES_DIR)]
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    config.HTMLExporter.embed_images = True
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    return config


#: Cells with this tag go to the report's closing appendix, in notebook order: the technical
#: detail (diagnostics, scores, formulas) a manager's text refers to but need not read.
APPENDIX_TAG = "appendix"
APPENDIX_HEADING = "## Technical appendix"
APPENDIX_INTRO = ("The detail behind the report's statements, for readers who want to check "
                  "them: each term is explained where it first appears.")


def merge_notebooks(notebooks: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    """Concatenate notebooks into one, keeping only what a reader of the report should see.

    Stderr streams and widget outputs are dropped; code cells left without output (or tagged
    ``remove-output``) and cells tagged ``remove-cell`` are removed; cells tagged
    :data:`APPENDIX_TAG` move, in order, under :data:`APPENDIX_HEADING` at the end; and a
    heading with nothing under it before the next heading of its level (a section a run had
    nothing to say in) is removed.
    """
    if not notebooks:
        raise ReportError("no executed notebooks to render")
    merged = nbformat.v4.new_notebook(metadata=copy.deepcopy(notebooks[0].metadata))
    merged.metadata.pop("widgets", None)
    body, appendix = [], []
    for nb in notebooks:
        for cell in nb.cells:
            kept = _reader_view(cell)
            if kept is not None:
                (appendix if APPENDIX_TAG in _tags(cell) else body).append(kept)
    if appendix:
        body += [nbformat.v4.new_markdown_cell(APPENDIX_HEADING),
                 nbformat.v4.new_markdown_cell(APPENDIX_INTRO), *appendix]
    for cell in _without_empty_sections(body):
        cell["id"] = f"cell-{len(merged.cells) + 1}"  # unique and stable across runs
        merged.cells.append(cell)
    return merged


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _heading_level(cell) -> int | None:
    """The level of a Markdown cell that holds only headings (its first), else None."""
    if cell is None or cell.cell_type != "markdown":
        return None
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    if not lines or not all(line.startswith("#") for line in lines):
        return None
    return len(lines[0]) - len(lines[0].lstrip("#"))


def _without_empty_sections(cells: list) -> list:
    """Drop each heading-only cell followed by a heading of its level or above, or by nothing
    (from the end, so that a section whose subsections are all empty goes too)."""
    out: list = []
    for cell in reversed(cells):
        level = _heading_level(cell)
        if level is not None:
            following = out[-1] if out else None
            following_level = _heading_level(following)
            if following is None or (following_level is not None and following_level <= level):
                continue
        out.append(cell)
    return out[::-1]


def _reader_view(cell: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    if "remove-cell" in _tags(cell):
        return None
    cell = copy.deepcopy(cell)
    if cell.cell_type != "code":
        return cell
    if "remove-output" in _tags(cell):
        return None
    outputs = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.get("name") == "stderr":
            continue
        if "data" in output:
            for mimetype in WIDGET_MIMETYPES:
                output.data.pop(mimetype, None)
            if not output.data:
                continue
        outputs.append(output)
    cell.outputs = outputs
    return cell if outputs else None


# --------------------------------------------------------------------------------------------
# What the text announces, the page must hold
# --------------------------------------------------------------------------------------------

#: A sentence that announces a table (in its own section; one naming the appendix is exempt).
ANNOUNCES_TABLE = re.compile(r"\btables?\b|\blist below\b|\bbelow (?:ranks|lists)\b", re.I)
#: A sentence that announces a figure.
ANNOUNCES_FIGURE = re.compile(r"\b(?:figure|chart|plot)s?\b", re.I)
#: A sentence pointing below, at a table or a figure of its section.
POINTS_BELOW = re.compile(r"\bbelow\b", re.I)


def announcement_problems(html: str) -> list[str]:
    """What the report's text announces that its page does not hold, one sentence each.

    The page is cut into sections at its headings (``h2`` to ``h4``). A section whose prose
    has a sentence naming a table (or a list below) must hold a table; one naming a figure, a
    chart or a plot must hold an image; one pointing "below" must hold either; and a heading
    must have something under it before the next heading of its level. Sentences that name the
    appendix are left out (they point elsewhere). An empty list: the text and the page agree.
    """
    sections = _Sections()
    sections.feed(html)
    sections.close()
    problems = []
    for i, section in enumerate(sections.found):
        text = " ".join(section["text"]).strip()
        following = sections.found[i + 1]["level"] if i + 1 < len(sections.found) else 0
        empty = not text and not section["tables"] and not section["images"]
        if empty and following <= section["level"]:
            problems.append(f"section {section['heading']!r} is empty")
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            if "appendix" in sentence.lower():
                continue
            quoted = sentence if len(sentence) <= 120 else sentence[:117] + "..."
            if ANNOUNCES_TABLE.search(sentence) and not section["tables"]:
                problems.append(f"section {section['heading']!r} announces a table that it "
                                f"does not hold: {quoted!r}")
            if ANNOUNCES_FIGURE.search(sentence) and not section["images"]:
                problems.append(f"section {section['heading']!r} announces a figure that it "
                                f"does not hold: {quoted!r}")
            if (POINTS_BELOW.search(sentence) and not section["tables"]
                    and not section["images"]):
                problems.append(f"section {section['heading']!r} points below at nothing: "
                                f"{quoted!r}")
    return problems


class _Sections(HTMLParser):
    """The report's sections: heading, level, prose (outside tables), tables and images."""

    HEADINGS = {"h2": 2, "h3": 3, "h4": 4}
    SKIPPED = ("style", "script", "table")

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict] = []
        self._skip = 0
        self._heading: list[str] | None = None

    def _current(self) -> dict | None:
        return self.found[-1] if self.found else None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.HEADINGS:
            self.found.append({"heading": "", "level": self.HEADINGS[tag], "text": [],
                               "tables": 0, "images": 0})
            self._heading = []
        elif tag == "table" and self._current() is not None:
            self._current()["tables"] += 1
        elif tag == "img" and self._current() is not None:
            self._current()["images"] += 1
        if tag in self.SKIPPED:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HEADINGS and self._heading is not None:
            self._current()["heading"] = " ".join("".join(self._heading).split()).rstrip("¶")
            self._heading = None
        if tag in self.SKIPPED and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)
        elif not self._skip and self._current() is not None and data.strip():
            self._current()["text"].append(data.strip())


def external_resources(html: str) -> list[str]:
    """URLs an HTML document would fetch when displayed: ``src``, stylesheet links, CSS urls.

    Hyperlinks (``<a href>``) are not resources and are not listed; ``data:`` URIs are inline.
    """
    finder = _ResourceFinder()
    finder.feed(html)
    finder.close()
    return [url for url in finder.urls if not url.strip().lower().startswith("data:")]


class _ResourceFinder(HTMLParser):
    """Collect the URLs of resources an HTML page loads (not its hyperlinks)."""

    LOADING_TAGS = ("link", "script", "iframe", "object", "embed")

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if attributes.get("src"):
            self.urls.append(attributes["src"])
        if tag in self.LOADING_TAGS:
            self.urls.extend(attributes[a] for a in ("href", "data") if attributes.get(a))
        if attributes.get("style"):
            self.urls.extend(_css_urls(attributes["style"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls.extend(_css_urls(data))


def _css_urls(css: str) -> list[str]:
    urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", css)
    urls += re.findall(r"@import\s+['\"]([^'\"]+)", css)
    return urls


def build_pdf(html: str, target: str | os.PathLike, *, base_url: str | os.PathLike = ".") -> Path:
    """Render HTML to an A4 PDF with weasyprint, fetching nothing but ``data:`` URIs.

    Parameters
    ----------
    html : str
        A self-contained document, as made by :func:`build_html`.
    target : path
        The PDF file to write.
    base_url : path
        Base for relative URLs (there should be none).
    """
    import weasyprint
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"})
    logger = logging.getLogger("weasyprint")
    level = logger.level
    logger.setLevel(logging.ERROR)  # unsupported-CSS notices from pandas/nbconvert styles
    try:
        document = weasyprint.HTML(string=html, base_url=str(base_url), url_fetcher=fetcher)
        document.write_pdf(str(target))
    finally:
        logger.setLevel(level)
    return Path(target)


