"""The package, tests, benchmarks and tools pass ruff with the project's rules (pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from clvlib.config import SOURCE_ROOT


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format", "concise",
         "clvlib", "tests", "benchmarks", "tools"],
        cwd=SOURCE_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
