"""The course in notebooks/teaching: exercises and solutions, the student version, the site.

The lessons themselves run under nbval in smoke mode (`make test`'s second half). Here: every
exercise has a solution; the student version is the lesson without its solutions and runs; the
course site builds with navigation and figures and renders in headless Chromium.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from clvlib import config, teaching

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "notebooks" / "teaching"
LESSONS = teaching.lessons(COURSE)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _cell(kind: str, source: str, *tags: str):
    cell = (nbformat.v4.new_markdown_cell(source) if kind == "md"
            else nbformat.v4.new_code_cell(source))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _small_lesson() -> nbformat.NotebookNode:
    """A lesson in miniature: two exercises, the first with a two-cell solution."""
    return nbformat.v4.new_notebook(cells=[
        _cell("md", "# Lesson 0. A small lesson\n\nLearning goals: none."),
        _cell("code", "%matplotlib inline\nimport matplotlib.pyplot as plt\n\nvalue = 41"),
        _cell("code", "plt.plot([1, 2, 3], [1, 4, 9]); plt.title('a figure'); plt.show()"),
        _cell("md", "### Exercise 1. Add one", "exercise"),
        _cell("code", "answer = value + 1\nprint(answer)", "solution"),
        _cell("md", "It is 42.", "solution"),
        _cell("md", "### Exercise 2. Double it", "exercise"),
        _cell("code", "print(2 * value)", "solution"),
        _cell("md", "## References\n\n- None.\n\nRates $\\lambda_i \\sim \\text{Gamma}(r, "
              "\\alpha)$, in a sum\n\n$$E[X] = \\frac{r}{\\alpha} t$$\n\nand `$HOME` is code."),
    ])


def _write_course(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        nb = _small_lesson()
        nb.cells[0].source = f"# Lesson {i + 1}. Small lesson number {i + 1}"
        nbformat.write(nb, folder / f"{i + 1:02d}_small.ipynb")
    (folder / "README.md").write_text("# The course\n\nTwo small lessons.\n")
    return folder


# --------------------------------------------------------------------------------------------
# The lessons as committed
# --------------------------------------------------------------------------------------------


def test_the_course_has_eight_lessons_and_every_exercise_has_a_solution():
    assert len(LESSONS) >= 8, [p.name for p in LESSONS]
    problems = [p for lesson in LESSONS for p in teaching.check_lesson(lesson)]
    assert problems == []
    for lesson in LESSONS:
        found = teaching.exercises(nbformat.read(lesson, as_version=4))
        assert len(found) >= 2, f"{lesson.name}: {len(found)} exercise(s)"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_each_lesson_states_goals_cites_papers_and_is_committed_without_outputs(lesson):
    nb = nbformat.read(lesson, as_version=4)
    first, last = nb.cells[0], nb.cells[-1]
    assert first.cell_type == "markdown" and first.source.startswith("# Lesson")
    assert "**Learning goals.**" in first.source and "**The question.**" in first.source
    assert last.cell_type == "markdown" and last.source.startswith("## References")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "strip the outputs"
    assert "teaching.setup_lesson()" in code[0].source


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_the_student_version_runs_what_the_lesson_runs(lesson):
    """The student version's code is the lesson's code up to the first solution, then to-dos.

    After the first solution cell every code cell of a lesson is a solution, so no cell a
    student runs depends on a solution: the student version runs whenever the lesson does
    (nbval runs every lesson). One student version is also executed below.
    """
    nb = nbformat.read(lesson, as_version=4)
    tags = [teaching._tags(c) for c in nb.cells]
    first = next(i for i, t in enumerate(tags) if teaching.SOLUTION_TAG in t)
    after = [i for i, c in enumerate(nb.cells[first:], first)
             if c.cell_type == "code" and teaching.SOLUTION_TAG not in tags[i]]
    assert after == [], f"{lesson.name}: cells {after} follow a solution but are not solutions"
    student = teaching.strip_solutions(nb)
    kept = [c.source for c, t in zip(nb.cells, tags, strict=True)
            if c.cell_type == "code" and teaching.SOLUTION_TAG not in t]
    student_code = [c for c in student.cells if c.cell_type == "code"]
    assert [c.source for c in student_code if teaching.TODO_TAG not in teaching._tags(c)] == kept
    assert sum(teaching.TODO_TAG in teaching._tags(c) for c in student_code) == len(
        teaching.exercises(nb))


def test_the_student_version_of_a_lesson_executes(tmp_path, monkeypatch):
    """Lesson 1's student version, written by the command, runs from a clean kernel."""
    monkeypatch.setenv("CLVLIB_SMOKE", "1")
    assert teaching.main(["strip", str(COURSE), "--out", str(tmp_path / "student")]) == 0
    written = sorted(p.name for p in (tmp_path / "student").glob("*.ipynb"))
    assert written == [p.name for p in LESSONS]
    assert (tmp_path / "student" / "README.md").is_file()
    path = tmp_path / "student" / LESSONS[0].name
    nb = nbformat.read(path, as_version=4)
    assert not any(teaching.SOLUTION_TAG in teaching._tags(c) for c in nb.cells)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)


# --------------------------------------------------------------------------------------------
# Stripping solutions
# --------------------------------------------------------------------------------------------


def test_strip_solutions_puts_one_todo_cell_where_each_solution_was():
    nb = _small_lesson()
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="old output")]
    student = teaching.strip_solutions(nb)
    sources = [c.source for c in student.cells]
    assert "answer = value + 1\nprint(answer)" not in sources and "It is 42." not in sources
    todos = [i for i, c in enumerate(student.cells) if teaching.TODO_TAG in teaching._tags(c)]
    assert todos == [4, 6]  # right after each exercise
    assert sources[4].startswith("# Exercise 1:") and sources[6].startswith("# Exercise 2:")
    assert all(teaching.RAISES_TAG in teaching._tags(student.cells[i]) for i in todos)
    assert student.cells[1].outputs == []
    assert len(nb.cells) == 9 and nb.cells[1].outputs  # the lesson itself is untouched
    nbformat.validate(student)
    assert len({c["id"] for c in student.cells}) == len(student.cells)


def test_exercises_pair_each_exercise_with_its_solution_cells():
    found = teaching.exercises(_small_lesson())
    assert [(e.number, e.title, e.cell, e.solutions) for e in found] == [
        (1, "Exercise 1. Add one", 3, (4, 5)),
        (2, "Exercise 2. Double it", 6, (7,)),
    ]


def test_an_exercise_without_solution_is_reported_and_blocks_the_student_version(tmp_path):
    nb = _small_lesson()
    del nb.cells[7]  # exercise 2 loses its solution
    folder = tmp_path / "course"
    folder.mkdir()
    nbformat.write(nb, folder / "01_small.ipynb")
    problems = teaching.check_lesson(folder / "01_small.ipynb")
    assert problems == ["01_small.ipynb: exercise 2 ('Exercise 2. Double it') has no solution cell"]
    with pytest.raises(ValueError, match="exercise 2"):
        teaching.write_student_version(folder, tmp_path / "student")
    assert teaching.main(["check", str(folder)]) == 1
    assert teaching.main(["strip", str(folder), "--out", str(tmp_path / "s")]) == 1


def test_a_solution_before_any_exercise_is_an_error():
    nb = _small_lesson()
    nb.cells[1].metadata["tags"] = [teaching.SOLUTION_TAG]
    with pytest.raises(ValueError, match="cell 1 is a solution that follows no exercise"):
        teaching.exercises(nb)


# --------------------------------------------------------------------------------------------
# Lesson helpers
# --------------------------------------------------------------------------------------------


def test_sampling_is_the_full_setting_unless_in_smoke_mode(monkeypatch):
    monkeypatch.delenv("CLVLIB_SMOKE", raising=False)
    assert teaching.sampling(draws=1000, tune=500, chains=2) == {
        "draws": 1000, "tune": 500, "chains": 2, "progressbar": False}
    assert teaching.scale(400, 60) == 400
    monkeypatch.setenv("CLVLIB_SMOKE", "1")
    smoke = teaching.sampling(draws=1000, tune=500, chains=2)
    assert {k: smoke[k] for k in ("draws", "tune", "chains")} == config.SMOKE_SAMPLING
    assert smoke["cache_dir"] == teaching.SMOKE_FIT_CACHE
    assert teaching.scale(400, 60) == 60


def test_cdnow_sample_is_the_fhl_summary_without_the_known_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, summary = teaching.cdnow_sample(holdout=True)
    assert len(summary) == 2357
    assert int(summary.customers["x"].sum()) == 2457  # FHL 2005: repeat purchases, weeks 1-39
    assert int(summary.customers["x_holdout"].sum()) == 1882


# --------------------------------------------------------------------------------------------
# The course site
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_site(tmp_path_factory):
    """Two small lessons, executed and exported as a site."""
    root = tmp_path_factory.mktemp("course")
    folder = _write_course(root / "teaching")
    timings = teaching.build_site(folder, root / "site")
    return root / "site", timings


def test_the_site_has_an_index_and_linked_executed_lessons(small_site):
    site, timings = small_site
    assert sorted(timings) == ["01_small.ipynb", "02_small.ipynb"]
    assert all(seconds > 0 for seconds in timings.values())
    index = (site / "index.html").read_text()
    assert 'href="01_small.html"' in index and 'href="02_small.html"' in index
    assert "Two small lessons." in index  # the course README heads the index
    first, second = ((site / f"0{i}_small.html").read_text() for i in (1, 2))
    assert '<img' in first and "data:image/png;base64" in first  # the executed figure
    assert 'class="next" href="02_small.html"' in first and 'class="prev"' not in first
    assert 'class="prev" href="01_small.html"' in second and 'class="next"' not in second
    assert "<title>Lesson 1. Small lesson number 1</title>" in first
    assert "It is 42." in first  # the instructor's site keeps the solutions
    # the math as MathML (no network needed to read it), code spans as they are
    assert first.count("<math ") == 2 and '<math display="block"' in first
    assert "\\lambda" not in first and "\\frac" not in first and "<code>$HOME</code>" in first
    assert (site / "timings.json").is_file()


@pytest.mark.course
def test_the_site_renders_in_headless_chromium(small_site, tmp_path):
    if teaching.find_chromium() is None:
        message = ("chromium is not installed: `make course-deps` installs it "
                   "(apt-get install chromium)")
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    site, _ = small_site
    problems = teaching.browser_check(site, lesson="02_small.html", screenshots=tmp_path)
    assert problems == []
    for name in ("index.png", "02_small.png"):
        assert (tmp_path / name).stat().st_size > 5000  # a real image, not an empty page


@pytest.mark.course
def test_the_browser_check_fails_on_a_page_without_figure_or_navigation(small_site, tmp_path):
    if teaching.find_chromium() is None:
        pytest.skip("chromium is not installed")
    site, _ = small_site
    broken = tmp_path / "site"
    broken.mkdir()
    (broken / "index.html").write_text((site / "index.html").read_text())
    (broken / "01_small.html").write_text(
        "<html><head><title>Lesson 1. Small lesson number 1</title></head>"
        "<body><h1>Lesson 1. Small lesson number 1</h1><p>a rate $\\lambda$</p></body></html>")
    (broken / "02_small.html").write_text((site / "02_small.html").read_text())
    problems = teaching.browser_check(broken, lesson="01_small.html")
    assert problems == ["01_small.html: no figure (<img) rendered",
                        "01_small.html: the course navigation did not render",
                        "01_small.html: raw TeX in the text ('$\\\\lambda$')"]
