"""The project's pins agree everywhere: environment.yml mirrors pyproject.toml (conda cannot run
here), and constraints.txt, the lock make installs with, holds every pin of pyproject.toml and the
whole dependency closure of the environment the tests run in."""

from __future__ import annotations

import importlib.metadata
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

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


# --------------------------------------------------------------------------------------------
# constraints.txt: the lock
# --------------------------------------------------------------------------------------------

DISTRIBUTION = "clvlib-workbench"


@pytest.fixture(scope="module")
def lock() -> dict[str, str]:
    """constraints.txt as canonical package name -> exact version."""
    pinned = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"constraints.txt: {line!r} is not an exact pin"
        name = canonicalize_name(requirement.name)
        assert name not in pinned, f"constraints.txt pins {name} twice"
        pinned[name] = spec.version
    return pinned


def test_lock_pins_every_requirement_of_pyproject_at_its_version(pyproject, lock):
    project = pyproject["project"]
    requirements = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra]
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} ({text}) is not in constraints.txt: run `make lock`"
        assert requirement.specifier.contains(lock[name], prereleases=True), (
            f"pyproject.toml asks for {text}, constraints.txt pins {name}=={lock[name]}: "
            "run `make lock`")
    assert canonicalize_name(DISTRIBUTION) not in lock  # the project itself is not locked


def _closure(root: str, extras: set[str]) -> dict[str, str]:
    """Installed name -> version of ``root`` (with ``extras``) and everything it requires."""
    seen: dict[str, str] = {}
    todo = [(root, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        dist = importlib.metadata.distribution(name)
        key = canonicalize_name(dist.metadata["Name"])
        if key in seen and not wanted:
            continue
        seen[key] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            markers = [{"extra": e} for e in wanted | {""}]
            if requirement.marker and not any(requirement.marker.evaluate(m) for m in markers):
                continue
            todo.append((requirement.name, frozenset(requirement.extras)))
    return seen


def test_the_test_environment_is_the_lock(lock):
    """Every package the installed project (with the dev extra the tests need) requires,
    directly or not, is in constraints.txt at the version installed: make installed from the
    lock, and the lock holds the whole closure."""
    installed = _closure(DISTRIBUTION, {"dev"})
    installed.pop(canonicalize_name(DISTRIBUTION))
    missing = sorted(set(installed) - set(lock))
    assert missing == [], f"installed but not in constraints.txt (run `make lock`): {missing}"
    differing = {n: (v, lock[n]) for n, v in installed.items() if lock[n] != v}
    assert differing == {}, f"installed version differs from constraints.txt: {differing}"
