"""Run the report pipeline: parameterized notebooks -> executed notebooks, HTML, PDF, manifest.

The pipeline is the ``*.ipynb`` files of ``notebooks/pipeline`` in name order; a notebook starts
once the steps it reads from have finished (its metadata ``clvlib.after``, by default every
earlier step), beside any other whose inputs are ready (one per CPU core). Each declares its
parameters in a cell tagged ``parameters`` (typed, commented literals); :func:`run_report` reads
them with :func:`papermill.inspect_notebook`, rejects unknown keys in the params file, executes
every notebook from a clean kernel with papermill in a temporary build folder, renders one
self-contained ``report.html`` (nbconvert, code hidden) and ``report.pdf`` (weasyprint), writes
``manifest.json`` (parameters, data checksums, package versions, seed, timings) and only then
moves the build into place. A failure leaves the earlier report untouched.

Cells tagged ``remove-cell`` are left out of the report; cells tagged ``remove-output`` show no
output (their notebooks keep everything).
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import glob
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill
import yaml
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from clvlib import __version__ as clvlib_version
from clvlib.config import PIPELINE_DIR, REPORT_END_FILE, SOURCE_ROOT
from clvlib.datasets import DATASETS, file_sha256
from clvlib.errors import ReportError
from clvlib.rendering import DEFAULT_TITLE, announcement_problems, build_html, build_pdf

__all__ = ["ReportError", "build_html", "build_pdf", "run_report"]

KERNEL_NAME = "python3"
MANIFEST_VERSION = 1
# Distributions whose versions every manifest records (None when one is not installed).
VERSIONED_PACKAGES = (
    "pymc", "pytensor", "arviz", "numpy", "pandas", "duckdb", "nutpie",
    "papermill", "nbconvert", "weasyprint",
)
# Environment variables that change what the notebooks do, recorded in the manifest.
RECORDED_ENVIRONMENT = ("CLVLIB_SMOKE",)
# The parameter through which a notebook receives an earlier report's folder (--previous).
PREVIOUS_PARAMETER = "previous_report"
# The type annotations of parameters cells that run_report checks values against.
_PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


@dataclass(frozen=True)
class PipelineStep:
    """One notebook of the pipeline and the parameters its ``parameters`` cell declares.

    Attributes
    ----------
    path : Path
        The source notebook.
    declared : dict
        papermill's description of each parameter: ``inferred_type_name``, ``default`` (the
        source text of the default) and ``help`` (the comment).
    after : tuple of str
        The steps whose artifacts it reads, which must have finished before it starts: the
        notebook's ``metadata["clvlib"]["after"]``, by default every earlier step. Steps whose
        inputs are ready run side by side, one per CPU core.
    """

    path: Path
    declared: dict[str, dict[str, str]]
    after: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.stem

    def defaults(self) -> dict[str, Any]:
        """The default of each declared parameter, as a Python value where it is a literal."""
        return {key: _literal(spec.get("default", "")) for key, spec in self.declared.items()}


# --------------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------------


def run_report(
    params: Mapping[str, Any] | str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    notebooks_dir: str | os.PathLike = PIPELINE_DIR,
    progress: Callable[[str], Any] = print,
    previous: str | os.PathLike | None = None,
) -> Path:
    """Execute the pipeline notebooks and write a report folder.

    Parameters
    ----------
    params : dict or path
        The parameters, or a YAML file holding them. Every key must be declared by the
        ``parameters`` cell of at least one notebook; each notebook receives only the keys it
        declares. Dates written unquoted in YAML are passed as ISO strings to ``str`` parameters.
        A ``data`` value that is not a registered data set name is a path or glob, relative to
        the current directory.
    out_dir : path
        The report folder. It is replaced as a whole, and only once everything succeeded; an
        existing folder must be empty or an earlier report (holding ``manifest.json``).
    notebooks_dir : path
        Folder of the pipeline notebooks, run in name order (side by side where their
        metadata ``clvlib.after`` allows, see :class:`PipelineStep`).
    progress : callable
        Called with one line of text per finished step.
    previous : path, optional
        An earlier report's folder to compare with (period over period): passed to the
        notebooks as the ``previous_report`` parameter and linked in the manifest.

    Returns
    -------
    Path
        The report folder, holding the executed notebooks, ``report.html``, ``report.pdf``,
        ``manifest.json`` and the notebooks' ``artifacts/``.

    Raises
    ------
    ReportError
        Bad parameters (before anything runs), a failing notebook (naming the notebook, the cell
        and the exception; the executed notebook is kept in ``<out_dir>.failed/``) or a failed
        rendering. The earlier content of ``out_dir`` is then left as it was.

    Examples
    --------
    >>> run_report("clvlib/params/cdnow_smoke.yaml", "reports/smoke")  # doctest: +SKIP
    [1/5] 01_prepare ... 9.8 s
    ...
    """
    started = _now()
    params_file, values = load_params(params)
    steps = pipeline_steps(notebooks_dir)
    if previous is not None:
        values = {**values, PREVIOUS_PARAMETER: str(_check_previous(previous, steps))}
    values = validate_params(values, steps, source=params_file)
    effective = _effective_parameters(values, steps)
    data = _data_provenance(effective.get("data"))
    if data is not None:
        effective["data"] = values["data"] = data["value"]
    for key in ("covariates_file", "calendar_file"):  # like data: relative to where it runs
        if effective.get(key):
            effective[key] = values[key] = str(Path(effective[key]).expanduser().resolve())
    protected = [Path.cwd(), Path(notebooks_dir), *([SOURCE_ROOT] if SOURCE_ROOT else [])]
    out_dir = _check_out_dir(out_dir, protected + ([params_file] if params_file else []))
    build = _new_build_dir(out_dir)
    try:
        timings = _execute_all(steps, values, build, out_dir, progress)
        timings |= _render(steps, build, out_dir, effective, started, progress)
        timings["total"] = round(time.perf_counter() - started["perf"], 3)
        manifest = _manifest(params_file, effective, steps, data, timings, started)
        manifest["previous"] = _previous_link(values.get(PREVIOUS_PARAMETER))
        end_file = build / REPORT_END_FILE
        ran = [step.name for step in steps if step.name in timings]
        manifest["ended_early"] = ({"after": ran[-1],
                                    "reason": end_file.read_text(encoding="utf-8").strip()}
                                   if end_file.exists() else None)
        end_file.unlink(missing_ok=True)
        # What the text announces, the page must hold (a missing table is a defect to see).
        manifest["announcement_problems"] = announcement_problems(
            (build / "report.html").read_text(encoding="utf-8"))
        for problem in manifest["announcement_problems"]:
            progress(f"warning: report.html: {problem}")
        _write_json(build / "manifest.json", manifest)
        _replace_dir(build, out_dir)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(_failed_dir(out_dir), ignore_errors=True)
    return out_dir


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def load_params(params: Mapping[str, Any] | str | os.PathLike) -> tuple[Path | None, dict]:
    """Return ``(params file or None, parameter dict)`` from a mapping or a YAML file."""
    if isinstance(params, Mapping):
        return None, dict(params)
    path = Path(params)
    if not path.is_file():
        raise ReportError(f"params file {path} does not exist")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ReportError(f"params file {path} is not valid YAML: {exc}") from None
    if loaded is None:
        return path, {}
    if not isinstance(loaded, dict):
        raise ReportError(
            f"params file {path} must hold a mapping of parameter names to values, "
            f"not a {type(loaded).__name__}"
        )
    return path, loaded


def pipeline_steps(notebooks_dir: str | os.PathLike = PIPELINE_DIR) -> list[PipelineStep]:
    """The pipeline notebooks in name order, each with its declared parameters."""
    folder = Path(notebooks_dir)
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        raise ReportError(f"no notebooks (*.ipynb) in {folder}: there is no pipeline to run")
    steps = []
    for path in paths:
        try:
            declared = papermill.inspect_notebook(str(path))
        except Exception as exc:
            raise ReportError(f"cannot read the parameters of {path}: {exc}") from exc
        _check_parameters_cell(path, declared)
        earlier = [step.name for step in steps]
        after = nbformat.read(path, as_version=4).metadata.get("clvlib", {}).get("after", earlier)
        unknown = sorted(set(after) - set(earlier))
        if unknown:
            raise ReportError(f"{path}: metadata clvlib.after names {', '.join(unknown)}, which "
                              f"{'is' if len(unknown) == 1 else 'are'} not an earlier step of "
                              f"the pipeline ({', '.join(earlier) or 'none'})")
        steps.append(PipelineStep(path=path, declared=dict(declared), after=tuple(after)))
    return steps


def _check_parameters_cell(path: Path, declared: Mapping[str, Any]) -> None:
    """Fail when the ``parameters`` cell assigns a name that papermill could not read.

    papermill skips, with only a log warning, any line holding more than one ``=`` (an ``=``
    in a comment or a string counts); such a parameter would then look unknown to the runner.
    """
    nb = nbformat.read(str(path), as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        return
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        raise ReportError(f"{path}: the parameters cell is not valid Python: {exc}") from None
    assigned = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        assigned += [t.id for t in targets if isinstance(t, ast.Name)]
    unread = [name for name in assigned if name not in declared]
    if unread:
        raise ReportError(
            f"{path}: papermill cannot read the parameter{'s' if len(unread) > 1 else ''} "
            f"{', '.join(unread)} in the parameters cell. It skips every line with more than one "
            "'=' (an '=' in the comment or in a string counts): keep one '=' per line"
        )


def validate_params(
    values: Mapping[str, Any], steps: list[PipelineStep], *, source: Path | None = None
) -> dict[str, Any]:
    """Check parameter names and types against the notebooks' declarations.

    Unknown names are rejected with the list of valid ones; a value whose type does not match
    the annotation in a ``parameters`` cell (``str``, ``int``, ``float``, ``bool``) is rejected
    too. Dates are turned into ISO strings for ``str`` parameters.
    """
    where = f"params file {source}" if source else "parameters"
    declared = _declared_types(steps)
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ReportError(_unknown_message(where, unknown, sorted(declared)))
    checked = {}
    for key, value in values.items():
        checked[key] = _check_type(where, key, value, declared[key])
    _check_default_conflicts(checked, steps)
    return checked


def _declared_types(steps: list[PipelineStep]) -> dict[str, str]:
    types: dict[str, str] = {}
    for step in steps:
        for key, spec in step.declared.items():
            types.setdefault(key, spec.get("inferred_type_name", "None"))
    return types


def _unknown_message(where: str, unknown: list[str], valid: list[str]) -> str:
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, valid, n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"{where}: unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(hints)}. "
        f"Valid parameters (declared by the pipeline notebooks): {', '.join(valid)}"
    )


def _check_type(where: str, key: str, value: Any, type_name: str) -> Any:
    expected = _PARAMETER_TYPES.get(type_name)
    if expected is None:
        return value
    if type_name == "str" and isinstance(value, dt.date):
        return value.isoformat()
    is_bool = isinstance(value, bool)
    if isinstance(value, expected) and (type_name == "bool" or not is_bool):
        return float(value) if type_name == "float" else value
    raise ReportError(
        f"{where}: parameter {key!r} must be {type_name}, got {type(value).__name__} {value!r}"
    )


def _check_default_conflicts(values: Mapping[str, Any], steps: list[PipelineStep]) -> None:
    """Refuse to run when two notebooks default a parameter differently and it is not set."""
    seen: dict[str, tuple[str, str]] = {}
    for step in steps:
        for key, spec in step.declared.items():
            default = spec.get("default", "")
            if key in values:
                continue
            if key in seen and seen[key][1] != default:
                raise ReportError(
                    f"parameter {key!r} defaults to {seen[key][1]} in {seen[key][0]} but to "
                    f"{default} in {step.path.name}; set it in the params file"
                )
            seen.setdefault(key, (step.path.name, default))


def _effective_parameters(values: Mapping[str, Any], steps: list[PipelineStep]) -> dict:
    """The notebooks' defaults with the given values on top, as the manifest records them."""
    effective: dict[str, Any] = {}
    for step in steps:
        for key, default in step.defaults().items():
            effective.setdefault(key, default)
    effective.update(values)
    return dict(sorted(effective.items()))


def _check_previous(previous: str | os.PathLike, steps: list[PipelineStep]) -> Path:
    """The earlier report's folder, absolute, refused unless it holds a finished report."""
    folder = Path(previous).expanduser().absolute()
    if not (folder / "manifest.json").is_file():
        raise ReportError(f"--previous {folder}: not a report folder (no manifest.json)")
    if not any(PREVIOUS_PARAMETER in step.declared for step in steps):
        raise ReportError(f"--previous {folder}: no pipeline notebook declares the parameter "
                          f"{PREVIOUS_PARAMETER!r}, so nothing would compare the two runs")
    from clvlib.periods import load_run

    try:
        load_run(folder)
    except FileNotFoundError as exc:
        raise ReportError(f"--previous: {exc}") from None
    return folder


def _previous_link(previous: str | None) -> dict | None:
    """The manifest's link to the earlier report: its folder, run time, parameters, data."""
    if not previous:
        return None
    try:
        earlier = json.loads((Path(previous) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = {}
    return {
        "path": str(previous),
        "started_at": earlier.get("started_at"),
        "calibration_end": earlier.get("parameters", {}).get("calibration_end"),
        "data": earlier.get("data"),
    }


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


# --------------------------------------------------------------------------------------------
# Executing the notebooks
# --------------------------------------------------------------------------------------------


def _execute_all(
    steps: list[PipelineStep],
    values: Mapping[str, Any],
    build: Path,
    out_dir: Path,
    progress: Callable[[str], Any],
) -> dict[str, float]:
    """Run the steps, each as soon as the steps it comes after have finished, side by side up
    to one per CPU core (papermill waits on each notebook's kernel, a process of its own, so a
    thread per running step is enough; a step with none beside it runs in this thread, where
    Ctrl-C stops it at once). After a failure nothing more starts; the running steps finish,
    then the build is kept for inspection and the first failure is raised."""
    timings: dict[str, float] = {}
    total = len(steps) + 2
    pending, running, failures = list(steps), {}, []
    end_file = build / REPORT_END_FILE

    def finished(step: PipelineStep, outcome: Callable[[], float]) -> None:
        try:
            timings[step.name] = outcome()
        except _StepFailed as failure:
            failures.append(failure)
            return
        progress(f"[{len(timings)}/{total}] {step.name} ... {timings[step.name]:.1f} s")
        if end_file.exists() and not pending_ended:
            pending_ended.append(step.name)
            progress(f"the report ends after {step.name}: "
                     f"{end_file.read_text(encoding='utf-8').strip()}")

    pending_ended: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        while pending or running:
            go_on = not failures and not pending_ended
            ready = [s for s in pending if set(s.after) <= set(timings)] if go_on else []
            for step in ready:
                pending.remove(step)
            if len(ready) == 1 and not running:
                finished(ready[0], lambda step=ready[0]: _execute_step(step, values, build))
                continue
            for step in ready:
                running[pool.submit(_execute_step, step, values, build)] = step
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished(running.pop(future), future.result)
    if failures:
        kept = _keep_failed(build, out_dir)
        raise ReportError(failures[0].message(kept, out_dir)) from None
    return timings


class _StepFailed(Exception):
    """A notebook that failed: ``message`` words it once the build is kept."""

    def __init__(self, step: PipelineStep, exc: Exception, output: Path):
        super().__init__(step.name)
        self.step, self.exc, self.output = step, exc, output

    def message(self, kept: Path, out_dir: Path) -> str:
        if isinstance(self.exc, PapermillExecutionError):
            return _cell_failure_message(self.step, self.exc, kept / self.output.name, out_dir)
        return (f"notebook {self.step.path.name} did not run: {type(self.exc).__name__}: "
                f"{self.exc}\n  what it produced is kept in {kept}\n  {_untouched(out_dir)}")


#: Kernel starts tried per notebook. jupyter_client picks a kernel's five TCP ports by binding
#: and releasing them; another kernel starting beside it (steps run side by side, and other
#: processes start kernels too) can take one first, and the new kernel dies before it replies
#: ("Address already in use"). Nothing of the notebook has run then, so it is started again.
KERNEL_START_TRIES = 3
_KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"


def _execute_step(step: PipelineStep, values: Mapping[str, Any], build: Path) -> float:
    """Run one notebook from a clean kernel in the build folder; return its wall time."""
    output = build / step.path.name
    start = time.perf_counter()
    for attempt in range(1, KERNEL_START_TRIES + 1):
        try:
            _execute_notebook(step, values, output)
            break
        except Exception as exc:
            start_failed = isinstance(exc, RuntimeError) and _KERNEL_START_FAILURE in str(exc)
            if not start_failed or attempt == KERNEL_START_TRIES:
                raise _StepFailed(step, exc, output) from exc
    return round(time.perf_counter() - start, 3)


def _execute_notebook(step: PipelineStep, values: Mapping[str, Any], output: Path) -> None:
    passed = {key: value for key, value in values.items() if key in step.declared}
    build = output.parent
    papermill.execute_notebook(
        str(step.path),
        str(output),
        parameters=passed,
        kernel_name=KERNEL_NAME,
        # The kernel starts in the build folder. Not papermill's ``cwd``: it changes this
        # process's working directory for the whole run and restores it at the end, so a step
        # running beside another could start its kernel after the other's restore, in the wrong
        # folder (artifacts/summary.parquet not found). nbclient passes this path to the kernel
        # alone.
        resources={"metadata": {"path": str(build)}},
        progress_bar=False,
        log_output=False,
        config=_kernel_config(),
    )


def _kernel_config() -> Config:
    """Kernel manager settings: CurveZMQ-encrypted transport where the kernel supports it.

    This also keeps ipykernel's warning about plain TCP transport off the terminal.
    """
    import zmq

    config = Config()
    if zmq.has("curve"):
        config.KernelManager.transport_encryption = "auto"
    return config


def _cell_failure_message(
    step: PipelineStep, exc: PapermillExecutionError, kept: Path, out_dir: Path
) -> str:
    first_line = next((ln.strip() for ln in (exc.source or "").splitlines() if ln.strip()), "")
    if len(first_line) > 80:
        first_line = first_line[:77] + "..."
    return (
        f"notebook {step.path.name} failed at {_cell_position(step.path, exc)} "
        f"(execution count {exc.exec_count}): {exc.ename}: {exc.evalue}\n"
        f"  the cell starts: {first_line}\n"
        f"  the executed notebook, with the full traceback, is kept at {kept}\n"
        f"  {_untouched(out_dir)}"
    )


def _cell_position(path: Path, exc: PapermillExecutionError) -> str:
    """'cell N of M' counted from 1 in the source notebook, as its author sees it.

    papermill's index counts the cell it injects; matching the failing source finds the cell in
    the notebook as written, and papermill's index is the fallback.
    """
    cells = nbformat.read(str(path), as_version=4).cells
    for position, cell in enumerate(cells, start=1):
        if cell.cell_type == "code" and cell.source == exc.source:
            return f"cell {position} of {len(cells)}"
    return f"cell index {exc.cell_index} of the executed notebook"


def _untouched(out_dir: Path) -> str:
    if out_dir.exists():
        return f"the earlier report in {out_dir} is untouched"
    return f"no report was written to {out_dir}"


def _keep_failed(build: Path, out_dir: Path) -> Path:
    """Move the partial build (executed notebooks so far, artifacts) to ``<out_dir>.failed``."""
    failed = _failed_dir(out_dir)
    shutil.rmtree(failed, ignore_errors=True)
    build.rename(failed)
    return failed


def _failed_dir(out_dir: Path) -> Path:
    return out_dir.with_name(out_dir.name + ".failed")


# --------------------------------------------------------------------------------------------
# Rendering: HTML and PDF
# --------------------------------------------------------------------------------------------


def _render(
    steps: list[PipelineStep],
    build: Path,
    out_dir: Path,
    effective: Mapping[str, Any],
    started: dict,
    progress: Callable[[str], Any],
) -> dict[str, float]:
    total = len(steps) + 2
    executed = [build / step.path.name for step in steps if (build / step.path.name).exists()]
    title = str(effective.get("title") or DEFAULT_TITLE)
    run_date = started["local"].strftime("%Y-%m-%d %H:%M %Z").strip()
    subtitle = _data_label(effective.get("data"))
    timings = {}

    start = time.perf_counter()
    try:
        html = build_html(executed, title=title, run_date=run_date, subtitle=subtitle)
    except Exception as exc:
        raise ReportError(
            f"could not render report.html: {type(exc).__name__}: {exc}\n  {_untouched(out_dir)}"
        ) from exc
    (build / "report.html").write_text(html, encoding="utf-8")
    timings["report.html"] = round(time.perf_counter() - start, 3)
    progress(f"[{total - 1}/{total}] report.html ... {timings['report.html']:.1f} s")

    start = time.perf_counter()
    try:
        build_pdf(html, build / "report.pdf", base_url=build)
    except Exception as exc:
        raise ReportError(
            f"could not render report.pdf: {type(exc).__name__}: {exc}\n  {_untouched(out_dir)}"
        ) from exc
    timings["report.pdf"] = round(time.perf_counter() - start, 3)
    progress(f"[{total}/{total}] report.pdf ... {timings['report.pdf']:.1f} s")
    return timings


# --------------------------------------------------------------------------------------------
# Provenance: data checksums, versions, manifest
# --------------------------------------------------------------------------------------------


def _data_provenance(data: Any) -> dict | None:
    """Resolve the ``data`` parameter and checksum its files.

    A registered data set name maps to its bundled file; anything else is a path or glob,
    made absolute against the current directory (the notebooks run in the build folder).
    """
    if data is None:
        return None
    if not isinstance(data, str) or not data:
        raise ReportError(f"parameter 'data' must be a data set name or a path, got {data!r}")
    if data in DATASETS:
        files = [DATASETS[data].path]
        value = data
        kind = "dataset"
    else:
        value = str(Path(data).expanduser().absolute())
        files = [Path(p) for p in sorted(glob.glob(value))]
        kind = "files"
        if not files:
            raise ReportError(
                f"parameter 'data': no file matches {value}; give a CSV/Parquet path or glob, "
                f"or a registered data set ({', '.join(DATASETS)})"
            )
    return {
        "value": value,
        "kind": kind,
        "files": [{"path": str(f), "sha256": _sha256(f)} for f in files],
    }


def _sha256(path: Path) -> str:
    if not path.is_file():
        raise ReportError(f"parameter 'data': {path} is not a file")
    return file_sha256(path)


def _data_label(data: Any) -> str:
    if not isinstance(data, str) or not data:
        return ""
    return f"data: {data}" if data in DATASETS else f"data: {Path(data).name}"


def _manifest(
    params_file: Path | None,
    effective: Mapping[str, Any],
    steps: list[PipelineStep],
    data: dict | None,
    timings: Mapping[str, float],
    started: dict,
) -> dict:
    finished = _now()
    return {
        "manifest_version": MANIFEST_VERSION,
        "params_file": str(params_file.resolve()) if params_file else None,
        "parameters": dict(effective),
        "seed": effective.get("random_seed"),
        "data": data,
        "notebooks": [
            {
                "notebook": step.path.name,
                "source": str(step.path.resolve()),
                "parameters": sorted(step.declared),
                "seconds": timings.get(step.name),
            }
            for step in steps
        ],
        "timings": dict(timings),
        "started_at": started["local"].isoformat(timespec="seconds"),
        "finished_at": finished["local"].isoformat(timespec="seconds"),
        "versions": package_versions(),
        "git": _git_state(),
        "platform": _platform(),
        "environment": {key: os.environ.get(key) for key in RECORDED_ENVIRONMENT},
        "kernel": {"name": KERNEL_NAME, "python": sys.executable},
    }


def package_versions() -> dict[str, str | None]:
    """Versions of Python and of the packages a report depends on (None: not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version(),
                                       "clvlib": clvlib_version}
    for name in VERSIONED_PACKAGES:
        versions[name] = _version(name)
    return versions


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_state() -> dict | None:
    """The source checkout's commit and whether tracked files differ; None for a wheel."""
    if SOURCE_ROOT is None:
        return None

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(SOURCE_ROOT), *args],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def _platform() -> dict:
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python_implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
    }


# --------------------------------------------------------------------------------------------
# Folders and small helpers
# --------------------------------------------------------------------------------------------


def _check_out_dir(out_dir: str | os.PathLike, protected: list[Path]) -> Path:
    """The report folder as an absolute path, refused where replacing it could lose work.

    It must not contain any of ``protected`` (the current folder, the project, the notebooks,
    the params file), and an existing folder must be empty or an earlier report (one with a
    ``manifest.json``), since the whole folder is replaced.
    """
    out = Path(out_dir).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {out} exists and is not a folder")
    for path in protected:
        if path.resolve().is_relative_to(out.resolve()):
            raise ReportError(
                f"--out {out} contains {path}; the report folder is replaced as a whole, so "
                "choose a folder of its own (such as reports/<run>)"
            )
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise ReportError(
            f"--out {out} exists and does not hold an earlier report (no manifest.json); the "
            "report folder is replaced as a whole, so choose a new or empty folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _new_build_dir(out_dir: Path) -> Path:
    """A fresh folder beside ``out_dir`` (same file system, so the final move is a rename)."""
    build = out_dir.with_name(f".{out_dir.name}.build-{uuid.uuid4().hex[:8]}")
    build.mkdir()
    return build


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` in place of ``target``: rename the old aside, the new in, delete the old."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        target.rename(old)
    try:
        new.rename(target)
    except OSError:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, payload: Mapping) -> None:
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def _now() -> dict:
    return {"local": dt.datetime.now().astimezone(), "perf": time.perf_counter()}

