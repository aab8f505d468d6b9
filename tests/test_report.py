"""The report runner: stand-in notebooks for the mechanics, the real pipeline for the contents."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from report_checks import REPORT_TABLES, assert_whole, smoke_report_valued_with, unescaped
from stand_ins import SECRET_CODE, make_notebook

import clvlib
from clvlib.config import PARAMS_DIR, PIPELINE_DIR
from clvlib.datasets import DATASETS
from clvlib.rendering import (
    APPENDIX_INTRO,
    announcement_problems,
    build_html,
    external_resources,
    merge_notebooks,
)
from clvlib.report import (
    ReportError,
    _data_provenance,
    _replace_dir,
    load_params,
    pipeline_steps,
    run_report,
    validate_params,
)

# The decision notebook's sections; the last only with --previous.
DECISION_SECTIONS = ["Strategy segments", "Win-back list", "What a new customer is worth",
                     "What the base and the firm are worth", "Change since the previous report"]
REPORT_SECTIONS = [
    "Data overview",
    "Relationship stages",
    "Model fit",
    "Model comparison",
    "Who differs, and why",
    "Repeat purchases: model vs data",
    "Tracking",
    "Holdout check",
    "Heterogeneity",
    "P(alive)",
    "Customer lifetime value",
    "Top customers",
    *DECISION_SECTIONS,
    "Technical appendix",
]
def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def leftovers(parent: Path) -> list[str]:
    """Temporary build or swap folders left beside the reports."""
    return [p.name for p in parent.iterdir() if ".build-" in p.name or ".old-" in p.name]


# --------------------------------------------------------------------------------------------
# A successful stand-in run, shared by the tests below
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stand_in(make_pipeline, tmp_path_factory):
    """Run the two stand-in notebooks into a folder that holds an earlier report."""
    pipeline = make_pipeline()
    out = tmp_path_factory.mktemp("reports") / "stand-in"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    (out / "stale.txt").write_text("from an earlier run")
    lines: list[str] = []
    result = run_report(
        {"n_points": 30, "horizon": 26}, out, notebooks_dir=pipeline, progress=lines.append
    )
    return {"out": result, "lines": lines, "pipeline": pipeline}


def test_report_folder_is_replaced_with_the_new_run(stand_in):
    out = stand_in["out"]
    names = {p.name for p in out.iterdir()}
    assert {"01_first.ipynb", "02_second.ipynb", "report.html", "report.pdf",
            "manifest.json"} <= names
    assert "stale.txt" not in names
    assert leftovers(out.parent) == []


def test_one_progress_line_per_step(stand_in):
    lines = stand_in["lines"]
    assert len(lines) == 4
    assert re.fullmatch(r"\[1/4\] 01_first \.\.\. \d+\.\d s", lines[0])
    assert re.fullmatch(r"\[2/4\] 02_second \.\.\. \d+\.\d s", lines[1])
    assert lines[2].startswith("[3/4] report.html") and lines[3].startswith("[4/4] report.pdf")


def test_each_notebook_gets_only_the_parameters_it_declares(stand_in):
    second = nbformat.read(stand_in["out"] / "02_second.ipynb", as_version=4)
    injected = [c for c in second.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert "horizon = 26.0" in injected[0].source
    assert "n_points" not in injected[0].source


def test_html_is_self_contained(stand_in):
    html = (stand_in["out"] / "report.html").read_text()
    assert external_resources(html) == []
    assert "<script" not in html
    assert "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    images = re.findall(r"<img[^>]*\ssrc=\"([^\"]{0,30})", html)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)


def test_html_hides_code_prompts_and_stderr(stand_in):
    html = (stand_in["out"] / "report.html").read_text()
    assert SECRET_CODE not in html
    assert "stand_in_marker_in_code" not in html
    assert "plt.subplots" not in html
    assert "In&nbsp;[" not in html and "Out[" not in html
    assert "must not reach the report" not in html


def test_html_renders_narrative_figures_and_tables_in_order(stand_in):
    html = (stand_in["out"] / "report.html").read_text()
    assert "<title>Stand-in report</title>" in html
    assert "<strong>30 points</strong>" in html
    assert 'class="dataframe"' in html
    assert "break-inside: avoid" in html and "size: A4" in html
    first, second = html.index("Stand-in overview"), html.index("Stand-in value")
    assert first < second
    assert "The horizon is 26 weeks." in html


def test_pdf_holds_the_headings(stand_in):
    text = pdf_text(stand_in["out"] / "report.pdf")
    for heading in ("Stand-in report", "Stand-in part one", "Stand-in overview", "Stand-in value"):
        assert heading in text
    assert SECRET_CODE not in text


def test_manifest_records_provenance(stand_in):
    manifest = json.loads((stand_in["out"] / "manifest.json").read_text())
    assert {
        "parameters", "seed", "data", "versions", "timings", "started_at", "finished_at",
        "git", "platform", "notebooks",
    } <= set(manifest)
    # given values on top of the notebooks' defaults
    assert manifest["parameters"] == {
        "data": "cdnow_sample", "horizon": 26.0, "n_points": 30, "random_seed": 7,
        "title": "Stand-in report",
    }
    assert manifest["seed"] == 7
    [data_file] = manifest["data"]["files"]
    assert data_file["sha256"] == DATASETS["cdnow_sample"].sha256
    for package in ("python", "clvlib", "pymc", "pytensor", "arviz", "numpy", "pandas",
                    "duckdb", "nutpie", "papermill", "nbconvert", "weasyprint"):
        assert package in manifest["versions"]
    assert manifest["versions"]["papermill"]
    timings = manifest["timings"]
    assert {"01_first", "02_second", "report.html", "report.pdf", "total"} <= set(timings)
    assert timings["total"] >= timings["01_first"] + timings["02_second"]
    started = dt.datetime.fromisoformat(manifest["started_at"])
    assert started <= dt.datetime.fromisoformat(manifest["finished_at"])
    assert manifest["platform"]["machine"]


def executed_notebook(outputs: list[dict]) -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: one executed code cell with the given outputs."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", execution_count=1,
                                  outputs=[nbformat.v4.new_output(**o) for o in outputs]),
        nbformat.v4.new_code_cell("y = 2", execution_count=2),
    ]
    return nb


def test_merge_keeps_what_a_reader_sees():
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "m"}}
    first = executed_notebook([
        {"output_type": "stream", "name": "stderr", "text": "noise"},
        {"output_type": "stream", "name": "stdout", "text": "kept"},
        {"output_type": "display_data", "data": widget},
        {"output_type": "display_data", "data": {**widget, "text/plain": "progress"}},
    ])
    markdown = {"output_type": "display_data", "data": {"text/markdown": "# Two"}}
    second = executed_notebook([markdown])
    merged = merge_notebooks([first, second])
    assert [c.id for c in merged.cells] == ["cell-1", "cell-2"]  # cells without output dropped
    outputs = merged.cells[0].outputs
    assert [o.get("text") or dict(o.data) for o in outputs] == ["kept", {"text/plain": "progress"}]
    assert merged.cells[1].outputs[0].data["text/markdown"] == "# Two"


def _markdown_cell(source, tags=()):
    return nbformat.v4.new_markdown_cell(source, metadata={"tags": list(tags)})


def _output_cell(markdown, tags=()):
    cell = nbformat.v4.new_code_cell("show()", metadata={"tags": list(tags)}, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": markdown})]
    return cell


def test_merge_moves_the_appendix_last_and_drops_empty_sections():
    """Cells tagged appendix go, in order, under one closing heading; a heading with nothing
    under it before the next heading of its level goes (a count-only log's value sections), and
    so does a section whose subsections are all empty; remove-cell and remove-output cells
    never reach the reader."""
    first = nbformat.v4.new_notebook(cells=[
        _markdown_cell("## Data"), _output_cell("prose"),
        _output_cell("### Diagnostics\n\ntable", tags=["appendix"]),
        _markdown_cell("## Customer value"),  # nothing under it
        _markdown_cell("## Decisions"), _markdown_cell("### Segments"),  # all empty
        _markdown_cell("### Win-back"), _output_cell("hidden", tags=["remove-output"]),
        _markdown_cell("internals", tags=["remove-cell"]),
    ])
    second = nbformat.v4.new_notebook(cells=[
        _markdown_cell("## Stages"), _output_cell("stages"),
        _output_cell("### Formulas", tags=["appendix"]), _markdown_cell("## Change"),
    ])
    merged = merge_notebooks([first, second])
    texts = [c.source if c.cell_type == "markdown" else c.outputs[0].data["text/markdown"]
             for c in merged.cells]
    assert texts == ["## Data", "prose", "## Stages", "stages",
                     "## Technical appendix", APPENDIX_INTRO,
                     "### Diagnostics\n\ntable", "### Formulas"]


PAGE = """<h2>Segments</h2><p>The rule is in the table below. The figure shows the shares.</p>
<table><caption>rule</caption><tr><td>figure words inside a table do not count</td></tr></table>
<img src="data:image/png;base64,AA"><h2>Win-back list</h2><p>The list below ranks them.</p>
<h2>Stages</h2><p>The figure counts them. The appendix has a table of them.</p><h2>Empty</h2>
<h2>Value</h2><h3>By cohort</h3><p>The cohorts below: what each is worth.</p>"""


def test_announcement_problems_name_each_table_or_figure_the_text_promises_and_lacks():
    problems = announcement_problems(PAGE)
    assert problems == [
        "section 'Win-back list' announces a table that it does not hold: 'The list below ranks "
        "them.'",
        "section 'Win-back list' points below at nothing: 'The list below ranks them.'",
        "section 'Stages' announces a figure that it does not hold: 'The figure counts them.'",
        "section 'Empty' is empty",
        "section 'By cohort' points below at nothing: 'The cohorts below: what each is worth.'",
    ]
    whole = PAGE.replace("ranks them.</p>", "ranks them.</p><table></table>").replace(
        "<h2>Empty</h2>", "").replace("counts them.", "counts them.<img src='data:,'>")
    assert announcement_problems(whole.replace("worth.</p>", "worth.</p><table></table>")) == []


def test_a_step_can_end_the_report_with_a_reason(tmp_path):
    """A notebook that calls end_report stops the pipeline there: later steps do not run, the
    report holds what ran and the reason, and the manifest records where and why."""
    folder = tmp_path / "pipeline"
    folder.mkdir()
    make_notebook(folder / "01_first.ipynb", [
        ("parameters", 'title: str = "Ends early"  # title'),
        ("code", "from clvlib.notebook import end_report, show\nshow('## Data\\n\\nOne customer.')"
                 "\nend_report('One customer cannot tell how customers differ.')")])
    make_notebook(folder / "02_second.ipynb", [
        ("parameters", "horizon: float = 52.0  # weeks"),
        ("code", "raise RuntimeError('must not run')")])
    lines: list[str] = []
    out = run_report({}, tmp_path / "report", notebooks_dir=folder, progress=lines.append)
    assert any("the report ends after 01_first: One customer cannot tell" in line
               for line in lines)
    html = (out / "report.html").read_text()
    assert "The report ends here." in html and "must not run" not in html
    assert not (out / "02_second.ipynb").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ended_early"] == {"after": "01_first",
                                       "reason": "One customer cannot tell how customers differ."}
    assert not (out / ".clvlib-report-end").exists()


def test_external_resources_are_found_and_refused(tmp_path):
    page = (
        '<html><head><link rel="stylesheet" href="https://cdn.example/x.css">'
        '<style>body { background: url("http://example.org/bg.png") }</style></head>'
        '<body><img src="data:image/png;base64,AAAA"><script src="//cdn.example/require.js">'
        '</script><a href="https://example.org/paper">a citation link is fine</a></body></html>'
    )
    assert external_resources(page) == [
        "https://cdn.example/x.css", "http://example.org/bg.png", "//cdn.example/require.js",
    ]
    nb = executed_notebook([{
        "output_type": "display_data",
        "data": {"text/html": '<img src="https://example.org/chart.png">'},
    }])
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ReportError, match="https://example.org/chart.png"):
        build_html([path])


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------


def test_failing_notebook_names_the_cell_and_keeps_the_earlier_report(
    stand_in, make_pipeline, tmp_path
):
    out = tmp_path / "report"
    shutil.copytree(stand_in["out"], out)
    before = snapshot(out)

    with pytest.raises(ReportError) as caught:
        run_report({}, out, notebooks_dir=make_pipeline(failing=True), progress=lambda _: None)

    message = str(caught.value)
    assert "02_second.ipynb" in message
    assert "cell 2 of 3" in message
    assert "execution count" in message
    assert "ValueError: stand-in failure in the second cell" in message
    assert "untouched" in message
    assert snapshot(out) == before
    failed = tmp_path / "report.failed"
    assert str(failed) in message
    assert (failed / "02_second.ipynb").is_file()
    assert (failed / "01_first.ipynb").is_file()
    assert leftovers(tmp_path) == []


def test_failure_without_an_earlier_report_writes_nothing(make_pipeline, tmp_path):
    out = tmp_path / "new"
    with pytest.raises(ReportError, match="no report was written"):
        run_report({}, out, notebooks_dir=make_pipeline(failing=True), progress=lambda _: None)
    assert not out.exists()
    assert leftovers(tmp_path) == []


def _rendezvous(me: str, other: str) -> str:
    """A cell that records its start, then waits (up to 60 s) until ``other`` has started: it
    finishes only when the two run at the same time."""
    return f'''\
import pathlib, time
pathlib.Path("{me}.started").write_text(str(time.time()))
deadline = time.time() + 60
while not pathlib.Path("{other}.started").exists():
    assert time.time() < deadline, "{me} ran alone: {other} never started beside it"
    time.sleep(0.05)
'''


def _branching_pipeline(folder: Path, failing: bool = False) -> Path:
    """01_first, then 02_left and 03_right, which both read only 01's output (``after``), and
    04_last, which by default comes after all three."""
    folder.mkdir()
    make_notebook(folder / "01_first.ipynb", [("code", 'open("first.txt", "w").write("1")')])
    left = [("code", 'assert open("first.txt").read() == "1"'),
            ("code", _rendezvous("left", "right"))]
    if failing:
        left.append(("code", 'raise ValueError("stand-in failure on the left")'))
    make_notebook(folder / "02_left.ipynb", left, after=["01_first"])
    make_notebook(folder / "03_right.ipynb",
                  [("code", _rendezvous("right", "left")), ("code", "import time; time.sleep(1)"),
                   ("code", 'open("right.done", "w").write("yes")')], after=["01_first"])
    make_notebook(folder / "04_last.ipynb", [("code", '''\
import pathlib
assert pathlib.Path("right.done").exists() and pathlib.Path("left.started").exists()
''')])
    return folder


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="steps run side by side only on 2+ cores")
def test_steps_that_read_the_same_inputs_run_side_by_side(tmp_path):
    pipeline = _branching_pipeline(tmp_path / "pipeline")
    assert [s.after for s in pipeline_steps(pipeline)] == [
        (), ("01_first",), ("01_first",), ("01_first", "02_left", "03_right")]
    lines: list[str] = []
    out = run_report({}, tmp_path / "report", notebooks_dir=pipeline, progress=lines.append)
    assert (out / "04_last.ipynb").is_file()
    assert lines[0].startswith("[1/6] 01_first") and lines[3].startswith("[4/6] 04_last")
    assert {line.split()[1] for line in lines[1:3]} == {"02_left", "03_right"}


def test_kernels_start_in_the_build_folder_whatever_our_working_directory(tmp_path,
                                                                         monkeypatch):
    """Each step's kernel is told its folder: it does not inherit this process's working
    directory, which papermill changes and restores around its reads and writes (and around a
    whole run, given ``cwd``), so that a kernel starting beside a running step could start in
    the wrong folder (CI, 2026-12-03: 03_heterogeneity_and_value did not find
    artifacts/summary.parquet). Here the working directory is elsewhere and cannot change."""
    pipeline = _branching_pipeline(tmp_path / "pipeline")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(os, "chdir", lambda path: None)
    out = run_report({}, tmp_path / "report", notebooks_dir=pipeline, progress=lambda _: None)
    assert (out / "first.txt").read_text() == "1" and (out / "right.done").is_file()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="steps run side by side only on 2+ cores")
def test_a_failing_step_lets_its_neighbour_finish_and_nothing_after_it_start(tmp_path):
    pipeline = _branching_pipeline(tmp_path / "pipeline", failing=True)
    out = tmp_path / "report"
    with pytest.raises(ReportError) as caught:
        run_report({}, out, notebooks_dir=pipeline, progress=lambda _: None)
    assert "02_left.ipynb" in str(caught.value)
    assert "ValueError: stand-in failure on the left" in str(caught.value)
    failed = tmp_path / "report.failed"
    assert (failed / "right.done").is_file()  # the neighbour ran to its end
    assert not (failed / "04_last.ipynb").exists()
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_step_after_an_unknown_step_is_an_error(tmp_path):
    make_notebook(tmp_path / "01_only.ipynb", [("code", "1")], after=["00_missing"])
    with pytest.raises(ReportError, match="00_missing, which is not an earlier step"):
        pipeline_steps(tmp_path)


def test_unknown_parameters_are_rejected_before_anything_runs(make_pipeline, tmp_path):
    out = tmp_path / "report"
    with pytest.raises(ReportError) as caught:
        run_report({"n_pointz": 3, "colour": "red"}, out, notebooks_dir=make_pipeline())
    message = str(caught.value)
    assert "'n_pointz' (did you mean 'n_points'?)" in message
    assert "'colour'" in message
    assert "data, horizon, n_points, random_seed, title" in message
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_wrongly_typed_parameters_are_rejected(make_pipeline, tmp_path):
    with pytest.raises(ReportError, match="'n_points' must be int, got str 'many'"):
        run_report({"n_points": "many"}, tmp_path / "r", notebooks_dir=make_pipeline())
    with pytest.raises(ReportError, match="'n_points' must be int, got bool"):
        run_report({"n_points": True}, tmp_path / "r", notebooks_dir=make_pipeline())


def test_yaml_dates_become_iso_strings_and_ints_floats(make_pipeline, tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("title: 1997-09-30\nhorizon: 52\n")
    source, values = load_params(params)
    checked = validate_params(values, pipeline_steps(make_pipeline()), source=source)
    assert checked == {"title": "1997-09-30", "horizon": 52.0}


def test_bad_params_files_are_named(tmp_path):
    with pytest.raises(ReportError, match="does not exist"):
        load_params(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("draws: [1000\n")
    with pytest.raises(ReportError, match="broken.yaml is not valid YAML"):
        load_params(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- draws\n- tune\n")
    with pytest.raises(ReportError, match="must hold a mapping"):
        load_params(listing)


def test_parameters_papermill_cannot_read_are_reported(tmp_path):
    make_notebook(
        tmp_path / "01_only.ipynb",
        [("parameters", "draws: int = 10  # CLVLIB_SMOKE=1 cuts it\nchains: int = 2  # chains")],
    )
    with pytest.raises(ReportError, match="cannot read the parameter draws"):
        pipeline_steps(tmp_path)


def test_an_empty_pipeline_folder_is_an_error(tmp_path):
    with pytest.raises(ReportError, match="no notebooks"):
        pipeline_steps(tmp_path)


def test_data_paths_are_made_absolute_and_hashed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    for name in ("a.csv", "b.csv"):
        (tmp_path / "logs" / name).write_text(f"customer_id,date,amount\n{name},2024-01-01,1\n")
    data = _data_provenance("logs/*.csv")
    assert data["value"] == str(tmp_path / "logs" / "*.csv")
    assert [Path(f["path"]).name for f in data["files"]] == ["a.csv", "b.csv"]
    expected = hashlib.sha256((tmp_path / "logs" / "a.csv").read_bytes()).hexdigest()
    assert data["files"][0]["sha256"] == expected
    with pytest.raises(ReportError, match="no file matches"):
        _data_provenance("missing/*.parquet")


def test_out_folders_that_are_not_reports_are_refused(make_pipeline, tmp_path, monkeypatch):
    pipeline = make_pipeline()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ReportError, match="does not hold an earlier report"):
        run_report({}, precious, notebooks_dir=pipeline)
    monkeypatch.chdir(precious)
    with pytest.raises(ReportError, match="contains"):
        run_report({}, ".", notebooks_dir=pipeline)
    with pytest.raises(ReportError, match="contains"):
        run_report({}, pipeline.parent, notebooks_dir=pipeline)
    assert [p.name for p in precious.iterdir()] == ["thesis.tex"]


def test_replace_dir_swaps_whole_folders(tmp_path):
    old, new = tmp_path / "report", tmp_path / "build"
    old.mkdir()
    (old / "old.txt").write_text("old")
    new.mkdir()
    (new / "new.txt").write_text("new")
    _replace_dir(new, old)
    assert [p.name for p in old.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


# --------------------------------------------------------------------------------------------
# The real pipeline, smoke parameters
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    not any(PIPELINE_DIR.glob("*.ipynb")),
    reason=f"no pipeline notebooks in {PIPELINE_DIR} yet",
)
def test_smoke_report_end_to_end(tmp_path, monkeypatch):
    """The smoke report, then a second run on the same data and seed given the first with
    --previous (fits read back from a shared cache): it finds every customer in the same
    segment, links the first run in its manifest and writes the decision tables."""
    from clvlib import periods
    from clvlib.cli import main

    monkeypatch.setenv("CLVLIB_FIT_CACHE", str(tmp_path / "fits"))
    params = tmp_path / "smoke.yaml"
    params.write_text((PARAMS_DIR / "cdnow_smoke.yaml").read_text() + "fit_cache: true\n")
    out = run_report(params, tmp_path / "smoke", progress=print)
    html = assert_whole(out)
    text = pdf_text(out / "report.pdf")
    flat_text = " ".join(text.split())
    for section in REPORT_SECTIONS:
        if section != "Change since the previous report":
            assert f">{section}<" in html, section
            assert section in flat_text, section
    for caption in REPORT_TABLES:
        assert caption.replace("'", "&#x27;") in html or caption in html, caption
        assert caption in flat_text, caption
    # jargon stays in the appendix: the manager's text (before it) has none of it
    manager = flat_text[:flat_text.index("Technical appendix")]
    for term in ("R-hat", "ESS", "PSIS", "elpd", "log points", "(1 + 0.1)^-t"):
        assert term not in manager, term
    assert external_resources(html) == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["smoke"] is True
    assert manifest["data"]["files"][0]["sha256"] == DATASETS["cdnow_sample"].sha256
    assert {p.name for p in PIPELINE_DIR.glob("*.ipynb")} <= {p.name for p in out.iterdir()}
    assert manifest["previous"] is None
    assert "predictive interval" in html and "the range to plan with" in html

    second = tmp_path / "second"
    assert main(["report", "--params", str(params), "--out", str(second),
                 "--previous", str(out)]) == 0
    html = assert_whole(second)
    for section in DECISION_SECTIONS:
        assert f">{section}<" in html, section
    assert "Every customer is in the same segment as before" in html
    assert "in every posterior draw" in html
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["previous"]["path"] == str(out)
    assert manifest["parameters"]["previous_report"] == str(out)
    for name in ("segment_table.csv", "segment_table.parquet", "win_back_list.csv",
                 "win_back_list.parquet", "segments.parquet", "base_value_draws.parquet"):
        assert (second / "artifacts" / name).is_file(), name
    result = periods.compare_runs(periods.load_run(out), periods.load_run(second))
    assert result.unchanged and (result.value.loc["change"] == 0).all()


@pytest.mark.slow
def test_a_count_only_log_with_covariates_and_a_group(tmp_path, monkeypatch):
    """A log of customer ids and dates only (amount_column: ""), with covariates from a file
    (relative to where the command runs) and pooling by cohort: purchase models, P(alive),
    forecasts and their holdout check, relationship stages, the customers expected to buy most,
    prose that says once why spend and value are absent, no value section left as an empty
    heading, and "Who differs, and why" with each effect, its interval and the cohorts' spread
    (one report run for both, to keep make test short)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        log = clvlib.load_dataset("cdnow_sample")
    log = log[log["customer_id"] < "05000"]
    first = log.sort_values("date").groupby("customer_id")["amount"].first()
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"customer_id": first.index,
                  "first_order": np.where(first > first.median(), "large", "small")}
                 ).to_csv("customers.csv", index=False)
    log[["customer_id", "date"]].to_csv("counts.csv", index=False)
    params = {"title": "Count-only log", "data": "counts.csv", "amount_column": "",
              "covariates_file": "customers.csv", "purchase_covariates": ["first_order"],
              "group": "cohort", "candidate_models": ["bg_nbd"], "draws": 60, "tune": 100,
              "chains": 2, "smoke": True, "prediction_draws": 60, "fit_cache": False}
    out = run_report(params, tmp_path / "counts", progress=print)
    html = assert_whole(out)
    assert "The log has no amounts" in html and html.count("No spend or value here") == 1
    assert "Checked on the holdout" in html and "predictive interval" in html
    assert ">Relationship stages<" in html and "Customers by relationship stage on" in html
    assert "customers expected to buy most over the next 52 weeks" in html
    for section in DECISION_SECTIONS:
        assert f">{section}<" not in html, section
    assert not (out / "artifacts" / "gamma_gamma.nc").exists()
    values = pd.read_parquet(out / "artifacts" / "customer_values.parquet")
    assert "clv_mean" not in values.columns and values["purchases_mean"].notna().all()
    assert "Who differs, and why" in html
    assert "BG/NBD (covariates: first_order; pooled by cohort)" in html
    assert "whose first_order is" in html and "differs across cohort groups" in html


@pytest.mark.slow
def test_an_apparel_like_covariate_report(tmp_path, monkeypatch):
    """A file no CDNOW run resembles (tests/scenarios.py: ids Id, dates %Y%m%d, EUR, a
    covariates file keyed by the log's own id column with 0/1 Gender and Channel), valued with
    the covariate Pareto/NBD: every announced table and figure is there; a 0/1 covariate reads
    "1 rather than 0"; the tracking check's holdout total is the holdout check's; and a
    corporate valuation on one quarter's acquisitions warns that the data cannot tell the
    acquisition rate instead of extrapolating it."""
    from scenarios import apparel_like

    params = apparel_like(tmp_path)
    params |= {"value_model": "Pareto/NBD (covariates: Gender, Channel)", "draws": 150,
               "tune": 200, "chains": 2, "smoke": True, "prediction_draws": 100,
               "valuation_draws": 20, "fit_cache": False}
    monkeypatch.chdir(tmp_path)
    out = run_report(params, tmp_path / "apparel", progress=print)
    html = unescaped(assert_whole(out))
    for caption in REPORT_TABLES:
        assert caption in html, caption
    assert "Customers with Gender 1 rather than 0 buy" in html and "Per unit more" not in html
    assert "The sections that follow use <strong>Pareto/NBD (covariates: Gender, Channel)" in html
    holdout = int(pd.read_parquet(out / "artifacts" / "summary.parquet")["x_holdout"].sum())
    assert f"the holdout's 64.0 weeks saw {holdout:,} repeat purchases" in html
    assert f"the customers made <strong>{holdout:,} repeat purchases</strong>" in html
    assert "the firm's value below counts the existing customers only" in html
    prose = re.sub(r"<style.*?</style>|<[^>]+>", " ", html, flags=re.S)
    assert "EUR" in prose and "USD" not in prose


@pytest.mark.slow
def test_a_report_valued_with_ggompertz_nbd(tmp_path, monkeypatch):
    """GGompertz/NBD as a candidate and the value model: every announced table and figure is
    there, its lifetimes are told by its frailty, and the retention sensitivity says it moved
    beta on the Gompertz clock (DERT over its horizon stays finite)."""
    html = smoke_report_valued_with("ggompertz_nbd", ["pareto_nbd", "ggompertz_nbd"], tmp_path,
                                    monkeypatch)
    assert "The sections that follow use <strong>GGompertz/NBD" in html
    assert "at the average frailty (the scale of the hazard) a customer would stay" in html
    assert "e^(bt) - 1 for a Gompertz one" in html


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["one_customer", "no_repeat_buyers"])
def test_data_that_cannot_identify_a_model_end_the_report_with_a_sentence(
        scenario, tmp_path, monkeypatch):
    """One customer, or no repeat buyer: the report shows the data, then says in a sentence why
    it ends there, instead of fitting a model that would restate its prior (or crashing)."""
    import scenarios

    params = getattr(scenarios, scenario)(tmp_path)
    monkeypatch.chdir(tmp_path)
    lines: list[str] = []
    out = run_report(params, tmp_path / "report", progress=lines.append)
    html = assert_whole(out)
    assert "The report ends here." in html and ">Data overview<" in html
    assert ">Model fit<" not in html and not (out / "02_fit_and_check.ipynb").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ended_early"]["after"] == "01_prepare"
    assert any(line.startswith("the report ends after 01_prepare") for line in lines)


def _kernel_dies_at_start(monkeypatch, times: int) -> list[str]:
    """papermill whose first ``times`` kernel starts die as a port taken by another kernel
    makes them die; returns the notebooks it was asked to run, in order."""
    import clvlib.report as report

    calls: list[str] = []
    execute = report.papermill.execute_notebook

    def flaky(path, *args, **kwargs):
        calls.append(Path(path).name)
        if len(calls) <= times:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return execute(path, *args, **kwargs)

    monkeypatch.setattr(report.papermill, "execute_notebook", flaky)
    return calls


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path, monkeypatch):
    """A kernel that dies before replying (its port taken by another kernel starting beside it:
    CI saw it once) costs a second start, not the report."""
    import scenarios

    params = scenarios.one_customer(tmp_path)
    monkeypatch.chdir(tmp_path)
    calls = _kernel_dies_at_start(monkeypatch, times=1)
    out = run_report(params, tmp_path / "report", progress=lambda line: None)
    assert "The report ends here." in assert_whole(out)
    assert calls == ["01_prepare.ipynb", "01_prepare.ipynb"]


def test_a_kernel_that_never_starts_ends_the_report_with_the_reason(tmp_path, monkeypatch):
    import scenarios

    from clvlib.report import KERNEL_START_TRIES

    params = scenarios.one_customer(tmp_path)
    monkeypatch.chdir(tmp_path)
    calls = _kernel_dies_at_start(monkeypatch, times=KERNEL_START_TRIES)
    with pytest.raises(ReportError, match="01_prepare.ipynb did not run: RuntimeError: Kernel "
                                          "died before replying to kernel_info"):
        run_report(params, tmp_path / "report", progress=lambda line: None)
    assert calls == ["01_prepare.ipynb"] * KERNEL_START_TRIES
    assert not (tmp_path / "report").exists()  # nothing half-written


def test_the_default_params_file_lists_every_parameter_of_the_pipeline():
    """clvlib/params/cdnow.yaml says it lists every parameter (with comments): it does, and
    nothing else."""
    declared = {key for step in pipeline_steps() for key in step.declared}
    _, listed = load_params(PARAMS_DIR / "cdnow.yaml")
    assert set(listed) == declared, (sorted(declared - set(listed)), sorted(set(listed) - declared))
