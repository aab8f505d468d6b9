"""environment.yml mirrors pyproject.toml: same packages, same pins (conda cannot run here)."""

from __future__ import annotations

import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from clvlib.config import SOURCE_ROOT as PROJECT_ROOT


def normalize(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def pins(requirements: list[str]) -> dict[str, str]:
    """Normalized package name -> its version specifier, e.g. ``{"numpy": "==2.4.6"}``."""
    parsed = [Requirement(r) for r in requirements]
    return {normalize(r.name): str(r.specifier) for r in parsed}


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def environment() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())


def conda_and_pip(environment: dict) -> tuple[list[str], list[str]]:
    conda, pip = [], []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip += entry["pip"]
        else:
            conda.append(entry)
    return conda, pip


def test_environment_pins_match_pyproject(pyproject, environment):
    project = pyproject["project"]
    expected = pins(project["dependencies"])
    for extra in ("dev", "lab"):
        expected |= pins(project["optional-dependencies"][extra])
    _, pip = conda_and_pip(environment)
    listed = pins([entry for entry in pip if not entry.startswith("-")])
    assert set(listed) == set(expected), (
        f"only in environment.yml: {sorted(set(listed) - set(expected))}; "
        f"only in pyproject.toml: {sorted(set(expected) - set(listed))}"
    )
    differing = {name: (listed[name], expected[name])
                 for name in expected if listed[name] != expected[name]}
    assert differing == {}, f"pins differ (environment.yml, pyproject.toml): {differing}"


def test_every_pyproject_dependency_is_pinned_exactly(pyproject):
    """setuptools<81 is the one deliberate range (lifetimes imports pkg_resources)."""
    project = pyproject["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    loose = [r for r in requirements if "==" not in r and normalize(r) != "setuptools<81"]
    assert loose == []


def test_conda_part_is_python_of_the_supported_version(pyproject, environment):
    conda, pip = conda_and_pip(environment)
    assert environment["name"] == "clvlib"
    assert "conda-forge" in environment["channels"]
    assert sorted(conda) == ["c-compiler", "pip", "python=3.12"]
    assert "3.12.0" in SpecifierSet(pyproject["project"]["requires-python"])
    assert "-e ." in pip
