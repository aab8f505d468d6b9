"""Remake ``constraints.txt``: every package, at its exact version, that installing clvlib with
all its extras brings in (the dependency closure), so that every install of the project is the
same install.

Run by ``make lock``: it builds a new virtual environment, installs the project there with its
``dev``, ``lab`` and ``spark`` extras from ``pyproject.toml``'s pins, and writes what pip
installed (``pip freeze --all``, less pip itself and the project) with a header. make installs
with ``pip install -c constraints.txt``, and ``tests/test_environment.py`` checks the file
against ``pyproject.toml`` and against the environment the tests run in.

    python tools/lock.py [--python PYTHON] [--out constraints.txt]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = "dev,lab,spark"
HEADER = """\
# Every package the project installs, with its extras ({extras}), at the version it is tested
# with: the whole dependency closure of pyproject.toml's pins, made by `make lock`
# (tools/lock.py) with Python {python} on {platform}. make installs with
# `pip install -c constraints.txt`; tests/test_environment.py checks this file against
# pyproject.toml and the test environment. Do not edit by hand: change pyproject.toml, then
# run `make lock`.
"""


def freeze(python: str) -> tuple[list[str], str, str]:
    """Install the project with its extras into a new venv; return its frozen requirements."""
    with tempfile.TemporaryDirectory(prefix="clvlib-lock-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        subprocess.run(pip + ["install", "-q", f"{ROOT}[{EXTRAS}]"], check=True)
        frozen = subprocess.run(pip + ["freeze", "--all", "--exclude", "pip", "--exclude",
                                       "clvlib-workbench"],
                                check=True, capture_output=True, text=True).stdout
        info = subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import platform; print(platform.python_version()); print(platform.machine())"],
            check=True, capture_output=True, text=True).stdout.split()
    lines = sorted((ln.strip() for ln in frozen.splitlines() if ln.strip()), key=str.lower)
    return lines, info[0], f"Linux {info[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter to lock for")
    parser.add_argument("--out", default=str(ROOT / "constraints.txt"))
    args = parser.parse_args(argv)
    lines, version, machine = freeze(args.python)
    odd = [ln for ln in lines if "==" not in ln]
    if odd:
        raise SystemExit(f"pip freeze gave lines that are not exact pins: {odd}")
    text = HEADER.format(extras=EXTRAS, python=version, platform=machine) + "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(f"{args.out}: {len(lines)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
