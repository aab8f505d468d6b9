"""The CLV course in ``notebooks/teaching``: lesson settings, student versions, the course site.

Lessons tag their cells (Jupyter cell metadata ``tags``):

- ``exercise``: the exercise text (Markdown), and any starter code a student keeps;
- ``solution``: the instructor's answer (one or more cells right after the exercise);
- ``todo``: what the student version puts in place of each solution (added by
  :func:`strip_solutions`, also tagged ``raises-exception`` so that nbval and nbclient let an
  unfinished answer fail without failing the notebook).

Three jobs, one command each::

    python -m clvlib.teaching check notebooks/teaching            # every exercise has a solution
    python -m clvlib.teaching strip notebooks/teaching --out build/student
    python -m clvlib.teaching site notebooks/teaching --out build/course   # executed HTML site
    python -m clvlib.teaching browser-check build/course          # headless Chromium renders it

The site is nbconvert's HTML export of each executed lesson plus an index page and
previous/next links. Jupyter Book would add a second build system (Sphinx, its own
configuration and cache) for eight pages; nbconvert is already a dependency of the report
pipeline. The lessons' TeX becomes MathML (latex2mathml), which browsers render natively:
nbconvert's pages typeset math with MathJax from a CDN, so a site read offline (a classroom,
a laptop on a train) showed raw TeX.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from clvlib.config import FIT_CACHE_DIR, SMOKE_SAMPLING, smoke_mode

EXERCISE_TAG = "exercise"
SOLUTION_TAG = "solution"
TODO_TAG = "todo"
RAISES_TAG = "raises-exception"  # nbval and nbclient let a cell with this tag raise

# Smoke mode (CLVLIB_SMOKE=1, the test suite) samples as config.SMOKE_SAMPLING says. Smoke
# fits are also kept in a fit cache, so the second run of a lesson in the test suite (its student
# version) reads them back instead of compiling and sampling again.
SMOKE_FIT_CACHE = FIT_CACHE_DIR / "teaching-smoke"

# The Chromium flags of a headless, offline, throw-away browser session.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)


# --------------------------------------------------------------------------------------------
# In a lesson
# --------------------------------------------------------------------------------------------


def sampling(draws: int = 1000, tune: int = 1000, chains: int = 4) -> dict:
    """Fit options for a lesson: as given, or few draws (and a fit cache) in smoke mode.

    Smoke mode is ``CLVLIB_SMOKE=1`` (the test suite). The options go straight to
    :meth:`clvlib.CLVModel.fit`, for NUTS and for MAP alike.

    Examples
    --------
    >>> settings = sampling(draws=1000, tune=1000, chains=2)
    >>> model.fit(**settings)  # doctest: +SKIP
    >>> model.fit("map", **settings)  # doctest: +SKIP
    """
    if smoke_mode():
        return {**SMOKE_SAMPLING, "progressbar": False, "cache_dir": SMOKE_FIT_CACHE}
    return {"draws": draws, "tune": tune, "chains": chains, "progressbar": False}


def scale(full: int, smoke: int) -> int:
    """A size for a lesson: ``full`` normally, ``smoke`` in smoke mode (simulations, draws)."""
    return smoke if smoke_mode() else full


def setup_lesson() -> None:
    """Legible figures inline, quiet sampler loggers, short tables; warnings stay visible."""
    import logging

    import matplotlib as mpl
    import pandas as pd

    mpl.rcParams.update({
        "figure.dpi": 100, "figure.figsize": (7.0, 3.6), "font.size": 10,
        "axes.spines.top": False, "axes.spines.right": False,
    })
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.run_line_magic("matplotlib", "inline")
    except ImportError:  # a plain script
        pass
    for name in ("pymc", "pytensor", "arviz", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)
    pd.set_option("display.precision", 4)
    pd.set_option("display.max_columns", 20)


def cdnow_sample(holdout: bool = True):
    """The CDNOW sample as the lessons use it: the log and its weekly summary (FHL 2005).

    Calibration is 1997-01-01 to 1997-09-30 (39 weeks); with ``holdout`` the summary also
    counts the next 39 weeks (to 1998-06-30). The warning about 21 identical rows, which
    lesson 2 explains, is not repeated.

    Returns
    -------
    (TransactionLog, CustomerSummary)
    """
    import warnings

    import clvlib as clv

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*duplicate row", category=UserWarning)
        log = clv.read_transactions("cdnow_sample")
    summary = clv.summarize(log, time_unit="week", calibration_end="1997-09-30",
                            observation_end="1998-06-30" if holdout else None)
    return log, summary


# --------------------------------------------------------------------------------------------
# Exercises and solutions
# --------------------------------------------------------------------------------------------


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson: its number, first line, and cell positions."""

    number: int
    title: str
    cell: int
    solutions: tuple[int, ...]


def exercises(nb: nbformat.NotebookNode) -> list[Exercise]:
    """The exercises of a lesson with the cells of their solutions.

    An exercise starts at a Markdown cell tagged ``exercise``; the cells tagged ``solution``
    after it (before the next exercise) are its solution.

    Raises
    ------
    ValueError
        A ``solution`` cell before any exercise, or a cell tagged both ways.
    """
    found: list[dict] = []
    for index, cell in enumerate(nb.cells):
        tags = _tags(cell)
        if EXERCISE_TAG in tags and SOLUTION_TAG in tags:
            raise ValueError(f"cell {index} is tagged both {EXERCISE_TAG!r} and {SOLUTION_TAG!r}")
        if EXERCISE_TAG in tags and cell.cell_type == "markdown":
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            found.append({"cell": index, "title": first.lstrip("# ").strip(), "solutions": []})
        elif SOLUTION_TAG in tags:
            if not found:
                raise ValueError(f"cell {index} is a solution that follows no exercise")
            found[-1]["solutions"].append(index)
    return [Exercise(i + 1, f["title"], f["cell"], tuple(f["solutions"]))
            for i, f in enumerate(found)]


def check_lesson(path: str | Path) -> list[str]:
    """Problems with a lesson's exercises (empty when every exercise has a solution)."""
    nb = nbformat.read(path, as_version=4)
    try:
        found = exercises(nb)
    except ValueError as error:
        return [f"{Path(path).name}: {error}"]
    problems = [f"{Path(path).name}: exercise {e.number} ({e.title!r}) has no solution cell"
                for e in found if not e.solutions]
    if not found:
        problems.append(f"{Path(path).name}: no exercise (cells tagged {EXERCISE_TAG!r})")
    return problems


def strip_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of a lesson: each exercise's solution cells replaced by one to-do cell.

    Outputs are cleared. The to-do cell is a code cell tagged ``todo`` and ``raises-exception``
    that says which exercise it answers.
    """
    student = copy.deepcopy(nb)
    by_first = {e.solutions[0]: e for e in exercises(nb) if e.solutions}
    cells = []
    for index, cell in enumerate(student.cells):
        if index in by_first:
            number = by_first[index].number
            todo = nbformat.v4.new_code_cell(
                f"# Exercise {number}: your answer here (the cells above are yours to use).\n"
            )
            todo.metadata["tags"] = [TODO_TAG, RAISES_TAG]
            cells.append(todo)
        if SOLUTION_TAG in _tags(cell):
            continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    student.cells = cells
    if student.nbformat_minor < 5:  # cell ids came with nbformat 4.5; new cells bring one
        for cell in student.cells:
            cell.pop("id", None)
    return student


def lessons(folder: str | Path) -> list[Path]:
    """The lesson notebooks of a course folder, in order (names starting with two digits)."""
    return sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb"))


def write_student_version(folder: str | Path, out: str | Path) -> list[Path]:
    """Write the student version of every lesson (and the folder's README.md) to ``out``.

    Returns
    -------
    list of Path
        The student notebooks written.

    Raises
    ------
    ValueError
        A lesson with an exercise that has no solution (see :func:`check_lesson`).
    """
    folder, out = Path(folder), Path(out)
    problems = [p for lesson in lessons(folder) for p in check_lesson(lesson)]
    if problems:
        raise ValueError("cannot write the student version:\n  " + "\n  ".join(problems))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lesson in lessons(folder):
        target = out / lesson.name
        nbformat.write(strip_solutions(nbformat.read(lesson, as_version=4)), target)
        written.append(target)
    if (folder / "README.md").is_file():
        shutil.copy(folder / "README.md", out / "README.md")
    return written


# --------------------------------------------------------------------------------------------
# The course site
# --------------------------------------------------------------------------------------------

SITE_CSS = """
.course-nav { display: flex; justify-content: space-between; gap: 1em; padding: 0.6em 1.2em;
  background: #f3f5f8; border-bottom: 1px solid #d5dbe3; font-family: sans-serif; }
.course-nav.bottom { border-top: 1px solid #d5dbe3; border-bottom: none; margin-top: 2em; }
.course-nav a { text-decoration: none; color: #1f4e99; }
.course-index { max-width: 52em; margin: 2em auto; font-family: sans-serif; line-height: 1.5; }
.course-index table { border-collapse: collapse; width: 100%; }
.course-index td, .course-index th { border-bottom: 1px solid #dde; padding: 0.4em;
  text-align: left; }
"""


def lesson_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first level-1 Markdown heading of a lesson."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^# (.+)$", cell.source, flags=re.MULTILINE)
            if match:
                return match.group(1).strip()
    return fallback


def _nav(pages: list[tuple[str, str]], index: int, where: str) -> str:
    parts = []
    if index > 0:
        parts.append(f'<a class="prev" href="{pages[index - 1][0]}">&larr; '
                     f'{html.escape(pages[index - 1][1])}</a>')
    else:
        parts.append("<span></span>")
    parts.append('<a class="home" href="index.html">Course index</a>')
    if index < len(pages) - 1:
        parts.append(f'<a class="next" href="{pages[index + 1][0]}">'
                     f'{html.escape(pages[index + 1][1])} &rarr;</a>')
    else:
        parts.append("<span></span>")
    return f'<nav class="course-nav {where}">' + "".join(parts) + "</nav>"


def execute_lesson(path: Path, timeout: int = 600) -> tuple[nbformat.NotebookNode, float]:
    """Run a lesson from a clean kernel in its own folder; return it executed and the seconds."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb, time.perf_counter() - start


# $$display$$ or $inline$ TeX, as Jupyter's Markdown reads it (a lone or escaped $ is text),
# and the code it leaves alone: fenced blocks and inline code spans.
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$\n]+?)\$", re.S)
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)


def math_as_mathml(markdown: str) -> str:
    """A Markdown text with its TeX (``$...$`` inline, ``$$...$$`` display) as MathML, outside
    code; browsers render MathML without a script or a network.

    Examples
    --------
    >>> math_as_mathml("rate $\\lambda$, code `$HOME`")[:40]
    'rate <math xmlns="http://www.w3.org/1998'
    >>> math_as_mathml("rate $\\lambda$, code `$HOME`")[-14:]
    ', code `$HOME`'
    """
    from latex2mathml.converter import convert

    def one(match: re.Match) -> str:
        display, inline = match.groups()
        return convert(display or inline, display="block" if display else "inline")

    return "".join(piece if i % 2 else _MATH.sub(one, piece)
                   for i, piece in enumerate(_CODE.split(markdown)))


def build_site(folder: str | Path, out: str | Path, *, execute: bool = True) -> dict[str, float]:
    """Write the course site: one HTML page per lesson (executed), an index, prev/next links.

    Parameters
    ----------
    folder : str or Path
        The course folder (``notebooks/teaching``): lessons named ``NN_*.ipynb`` and a
        ``README.md`` whose text heads the index page.
    out : str or Path
        The site folder, replaced as a whole.
    execute : bool
        Run each lesson from a clean kernel first (False: export the notebooks as they are).

    Returns
    -------
    dict of str to float
        Seconds each lesson took to run (by file name), also written to ``timings.json``.
    """
    from nbconvert import HTMLExporter

    folder, out = Path(folder), Path(out)
    found = lessons(folder)
    if not found:
        raise ValueError(f"no lessons (NN_*.ipynb) in {folder}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    exporter = HTMLExporter(template_name="lab")
    executed, timings = [], {}
    for path in found:
        if execute:
            nb, seconds = execute_lesson(path)
            timings[path.name] = round(seconds, 1)
            print(f"{path.name}: {seconds:.1f} s", flush=True)
        else:
            nb = nbformat.read(path, as_version=4)
        executed.append(nb)
    pages = [(p.with_suffix(".html").name, lesson_title(nb, p.stem))
             for p, nb in zip(found, executed, strict=True)]
    for i, nb in enumerate(executed):
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = math_as_mathml(cell.source)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": pages[i][1]}})
        top, bottom = _nav(pages, i, "top"), _nav(pages, i, "bottom")
        body = body.replace("</head>", f"<style>{SITE_CSS}</style></head>", 1)
        body = re.sub(r"(<body[^>]*>)", lambda m, nav=top: m.group(1) + nav, body, count=1)
        body = body.replace("</body>", bottom + "</body>", 1)
        (out / pages[i][0]).write_text(body, encoding="utf-8")
    (out / "index.html").write_text(_index_page(folder, pages, found, timings), encoding="utf-8")
    (out / "timings.json").write_text(json.dumps(timings, indent=1) + "\n", encoding="utf-8")
    return timings


def _index_page(folder: Path, pages, found, timings) -> str:
    from nbconvert.filters.markdown import markdown2html

    readme = folder / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    text = re.sub(r"\A# .*\n", "", text)  # the page has its own title
    text = re.sub(r"\]\(([0-9][0-9]_[^)]*)\.ipynb\)", r"](\1.html)", text)  # links to the pages
    intro = markdown2html(text)
    rows = "".join(
        f'<tr><td>{i + 1}</td><td><a href="{href}">{html.escape(title)}</a></td>'
        f"<td>{timings.get(path.name, '')}{' s' if path.name in timings else ''}</td></tr>"
        for i, ((href, title), path) in enumerate(zip(pages, found, strict=True))
    )
    mode = "smoke mode (few draws)" if smoke_mode() else "full mode"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>The CLV course</title>"
        f"<style>{SITE_CSS}</style></head><body>"
        f'<nav class="course-nav top"><span>The CLV course</span>'
        f'<a class="next" href="{pages[0][0]}">{html.escape(pages[0][1])} &rarr;</a></nav>'
        f'<main class="course-index"><h1>The CLV course</h1>{intro}'
        f"<h2>Run times</h2><p>Each lesson from a clean kernel, when this site was built.</p>"
        f"<table><thead><tr><th>#</th><th>Lesson</th><th>run time ({mode})</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></main></body></html>"
    )


# --------------------------------------------------------------------------------------------
# The browser check
# --------------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """The Chromium executable on PATH (Debian's ``chromium``, or ``chromium-browser``)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(page: Path, *, screenshot: Path | None = None, chromium: str | None = None,
           timeout: int = 120) -> str:
    """The DOM of a page after headless Chromium has loaded it (and a PNG, if asked)."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("chromium is not installed (make course-deps installs it)")
    with tempfile.TemporaryDirectory(prefix="clvlib-chromium-") as profile:
        base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        url = page.resolve().as_uri()
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True,
                             timeout=timeout, check=True).stdout
        if screenshot is not None:
            subprocess.run([*base, f"--screenshot={screenshot.resolve()}",
                            "--window-size=1200,1600", "--hide-scrollbars", url],
                           capture_output=True, timeout=timeout, check=True)
    return dom


def browser_check(site: str | Path, *, lesson: str | None = None,
                  screenshots: str | Path | None = None) -> list[str]:
    """Load the index and one lesson in headless Chromium; return what failed (empty: all good).

    Checked: the index renders its title and a link to every lesson; the lesson renders its
    title, at least one figure (``<img``), the previous/next navigation, and no raw TeX.
    """
    site = Path(site)
    index = site / "index.html"
    if not index.is_file():
        return [f"{index} does not exist: build the site first (make course)"]
    pages = sorted(p for p in site.glob("[0-9][0-9]_*.html"))
    if not pages:
        return [f"no lesson pages in {site}"]
    page = site / lesson if lesson else pages[0]
    shots = Path(screenshots) if screenshots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    problems = []
    dom = render(index, screenshot=shots / "index.png" if shots else None)
    if "The CLV course" not in dom:
        problems.append("index: the title 'The CLV course' did not render")
    problems += [f"index: no link to {p.name}" for p in pages if f'href="{p.name}"' not in dom]
    dom = render(page, screenshot=shots / f"{page.stem}.png" if shots else None)
    title = re.search(r"<title>(.*?)</title>", page.read_text(encoding="utf-8"), re.S)
    title_text = html.unescape(title.group(1).strip()) if title else ""
    if not title_text or html.escape(title_text, quote=False) not in dom:
        problems.append(f"{page.name}: the lesson title {title_text!r} did not render")
    if "<img" not in dom:
        problems.append(f"{page.name}: no figure (<img) rendered")
    if 'class="course-nav top"' not in dom or 'href="index.html"' not in dom:
        problems.append(f"{page.name}: the course navigation did not render")
    text = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S | re.I)
    raw = re.search(r"\$[^$<>]*\\[A-Za-z]+[^$<>]*\$", text)
    if raw:
        problems.append(f"{page.name}: raw TeX in the text ({raw.group(0)[:40]!r})")
    return problems


# --------------------------------------------------------------------------------------------
# Command line: python -m clvlib.teaching ...
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m clvlib.teaching {check,strip,site,browser-check}``; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m clvlib.teaching", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check that every exercise has a solution")
    check.add_argument("folder", type=Path)
    strip = sub.add_parser("strip", help="write the student version (solutions removed)")
    strip.add_argument("folder", type=Path)
    strip.add_argument("--out", type=Path, required=True)
    site = sub.add_parser("site", help="build the course site (executed lessons as HTML)")
    site.add_argument("folder", type=Path)
    site.add_argument("--out", type=Path, required=True)
    site.add_argument("--no-execute", action="store_true", help="export without running")
    browse = sub.add_parser("browser-check", help="render the site in headless Chromium")
    browse.add_argument("site", type=Path)
    browse.add_argument("--lesson", help="the lesson page to check (default: the first)")
    browse.add_argument("--screenshots", type=Path, help="folder for PNG screenshots")
    args = parser.parse_args(argv)

    if args.command == "check":
        problems = [p for lesson in lessons(args.folder) for p in check_lesson(lesson)]
        for lesson in lessons(args.folder):
            found = exercises(nbformat.read(lesson, as_version=4))
            print(f"{lesson.name}: {len(found)} exercises")
    elif args.command == "strip":
        try:
            written = write_student_version(args.folder, args.out)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 1
        print(f"student version of {len(written)} lessons written to {args.out}")
        return 0
    elif args.command == "site":
        build_site(args.folder, args.out, execute=not args.no_execute)
        print(f"course site written to {args.out / 'index.html'}")
        return 0
    else:
        problems = browser_check(args.site, lesson=args.lesson, screenshots=args.screenshots)
        if not problems:
            print(f"browser check passed: {args.site / 'index.html'} and a lesson rendered")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
