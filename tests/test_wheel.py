"""clvlib as a wheel (not editable) works from any folder: data, notebooks and templates ship in it.

The wheel is built from this checkout and installed, as a user would, into a new virtual
environment with its declared dependencies resolved from its metadata (constrained by
``constraints.txt``, the lock) and nothing else: no dev extra, no link to the test environment. A
run-time dependency that only the dev extra brings (h5py once was) fails here. Everything then
runs from an empty folder outside the checkout. The install is uv's (``uv pip install``, a dev
tool): the same resolution of the same pins as pip's, in 20 seconds on two cores against pip's 80
to 115 (byte-compiled either way, as the report's kernels would otherwise compile every module
they import).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from clvlib import __version__
from clvlib.config import SOURCE_ROOT

pytestmark = pytest.mark.skipif(SOURCE_ROOT is None, reason="needs the source checkout")

UV = str(Path(sys.executable).parent / "uv")  # the dev extra's


def run(command: list[str], cwd: Path, env: dict | None = None, timeout: int = 600) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(SOURCE_ROOT)], cwd=base)
    (wheel,) = dist.glob("clvlib_workbench-*.whl")
    venv = base / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    run([UV, "pip", "install", "-q", "--python", str(python), "--compile-bytecode", "-c",
         str(SOURCE_ROOT / "constraints.txt"), str(wheel)], cwd=base, timeout=1200)
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                    cwd=base).strip())
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLVLIB_", "VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_"))}
    env |= {"XDG_CACHE_HOME": str(base / "cache"), "MPLBACKEND": "Agg",
            "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    return {"wheel": wheel, "bin": venv / "bin", "site": site, "cwd": elsewhere, "env": env}


def test_the_wheel_environment_holds_no_test_tool(wheel_env):
    """Only what the project declares (and what that requires) is installed: no dev extra."""
    out = run([UV, "pip", "list", "--python", str(wheel_env["bin"] / "python"),
               "--format=freeze"], cwd=wheel_env["cwd"], env=wheel_env["env"])
    names = {line.split("==")[0].lower() for line in out.split()}
    assert "clvlib-workbench" in names
    assert not names & {"pytest", "lifetimes", "pymc-marketing", "pyspark", "nbval",
                             "uv"}, names


def test_wheel_holds_the_run_time_files(wheel_env):
    names = set(zipfile.ZipFile(wheel_env["wheel"]).namelist())
    for needed in ("clvlib/data/CDNOW_sample.txt", "clvlib/data/CDNOW_master.txt",
                   "clvlib/data/donations.csv", "clvlib/data/sbg_retention.csv",
                   "clvlib/pipeline/01_prepare.ipynb", "clvlib/pipeline/02_fit_and_check.ipynb",
                   "clvlib/pipeline/03_heterogeneity_and_value.ipynb",
                   "clvlib/params/cdnow.yaml", "clvlib/params/cdnow_smoke.yaml",
                   "clvlib/templates/report.html.j2", "clvlib/templates/report.css"):
        assert needed in names, f"{needed} is not in {wheel_env['wheel'].name}"


def test_installed_clvlib_is_the_wheel_and_knows_its_version(wheel_env):
    out = run([str(wheel_env["bin"] / "python"), "-c",
               "import clvlib, clvlib.config as c; print(clvlib.__file__); "
               "print(c.SOURCE_ROOT); print(c.FIT_CACHE_DIR)"],
              cwd=wheel_env["cwd"], env=wheel_env["env"]).split("\n")
    assert Path(out[0]).is_relative_to(wheel_env["site"]), out[0]
    assert out[1] == "None"
    assert Path(out[2]).is_relative_to(Path(wheel_env["env"]["XDG_CACHE_HOME"]))
    version = run([str(wheel_env["bin"] / "clvlib"), "--version"], cwd=wheel_env["cwd"],
                  env=wheel_env["env"])
    assert version.strip() == f"clvlib {__version__}"


def test_replicate_map_only_from_another_folder(wheel_env):
    """The bundled CDNOW sample loads from the wheel (checksum included) and FHL 2005 replicates."""
    out = run([str(wheel_env["bin"] / "clvlib"), "replicate", "fhl2005", "--map-only"],
              cwd=wheel_env["cwd"], env=wheel_env["env"])
    assert "0.2426" in out and "-9582.4" in out, out


@pytest.mark.slow
def test_smoke_report_from_another_folder(wheel_env):
    """`clvlib report` with the wheel's own notebooks and templates writes HTML, PDF, manifest."""
    params = wheel_env["site"] / "clvlib" / "params" / "cdnow_smoke.yaml"
    env = {**wheel_env["env"], "CLVLIB_SMOKE": "1"}
    run([str(wheel_env["bin"] / "clvlib"), "report", "--params", str(params), "--out",
         "reports/smoke"], cwd=wheel_env["cwd"], env=env, timeout=900)
    out = wheel_env["cwd"] / "reports" / "smoke"
    assert {"report.html", "report.pdf", "manifest.json"} <= {p.name for p in out.iterdir()}
    assert not (wheel_env["cwd"] / "data").exists()  # nothing written beside the report
