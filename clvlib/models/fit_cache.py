"""Saved fits: their file format, and the cache that reads a fit back instead of refitting.

A saved fit is an ArviZ 1.x DataTree in netCDF whose root attribute ``clvlib`` holds the model
config (with :data:`FIT_FORMAT` as ``format``). The cache keys a fit by everything that decides
its numbers (:func:`cache_key`) and writes it atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import inspect
import json
import marshal
import os
import tempfile
import warnings
from dataclasses import asdict
from functools import cache
from pathlib import Path

import xarray as xr

# The layout of a saved fit. Fits saved before it (by clvlib 0.1 on ArviZ 0.23) carry no number
# and are refused with a message that says to refit.
FIT_FORMAT = 2

# Packages whose versions change the draws a fit returns: part of the fit-cache key.
SAMPLING_PACKAGES = ("numpy", "pymc", "pytensor", "nutpie")


def read_fit_file(path: str | Path) -> xr.DataTree:
    """A saved fit, read into memory and the file closed (so it can be replaced at once)."""
    with xr.open_datatree(str(path)) as tree:
        return tree.load()


def fit_config(idata: xr.DataTree, path: str | Path) -> dict:
    """The model config stored with a saved fit, refusing fits saved in an older format."""
    try:
        config = json.loads(idata.attrs["clvlib"])
    except KeyError:
        raise ValueError(f"{path}: not a clvlib fit (no 'clvlib' attribute)") from None
    if config.get("format") != FIT_FORMAT:
        raise ValueError(
            f"{path}: saved by an older clvlib (ArviZ 0.23 InferenceData, before fit format "
            f"{FIT_FORMAT}); refit the model and save it again"
        )
    return config


def cache_key(model, settings) -> str:
    """sha256 of everything that decides a fit's numbers: model, priors, settings, data hash,
    time unit and resolution, clvlib version and code, sampler package versions."""
    import clvlib  # the package is fully imported by the time a model is fitted

    payload = {
        "model": model.name,
        "priors": {k: v.to_dict() for k, v in sorted(model.priors.items())},
        "fit": asdict(settings.resolved()),
        "data": model.data_hash(),
        "time_unit": [model.time_unit.name, model.time_unit.days],
        "resolution": model.resolution,
        "clvlib": clvlib.__version__,
        "code": _source_hash(type(model)),
        "packages": _package_versions(),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def load_cached(path: Path, model) -> tuple[xr.DataTree, dict] | None:
    """The fit saved at ``path`` and its recorded timings, if it is there and is ``model``'s.

    An unreadable or foreign file is not trusted: it is said in a warning and None returned (the
    caller fits anew and replaces it).
    """
    if not path.is_file():
        return None
    try:
        idata = read_fit_file(path)
        config = fit_config(idata, path)
    except (OSError, KeyError, ValueError) as err:
        warnings.warn(f"{path}: unreadable cached fit ({err}); fitting again", stacklevel=3)
        return None
    if config["model"] != model.name or config["data"]["sha256"] != model.data_hash():
        warnings.warn(f"{path}: the cached fit is not this model's; fitting again", stacklevel=3)
        return None
    timings = json.loads(idata.attrs.get("clvlib_timings", "{}"))
    return idata, timings


def save_cached(path: Path, idata: xr.DataTree, timings: dict) -> None:
    """Write the fit to ``path`` atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    idata.attrs["clvlib_timings"] = json.dumps(timings)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".nc", dir=path.parent)
    os.close(fd)
    try:
        idata.to_netcdf(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is as readable as a save
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@cache
def _source_hash(model_class: type) -> str:
    """sha256 of the code that decides a fit: priors, the model classes' base, sampler adapters
    and compiled densities (their C source too), the shared numerics, the model's own module
    and the other model modules it imports (MBG/NBD reads BG/NBD's)."""
    from clvlib import priors, special
    from clvlib.models import base, density, kernels, numerics, samplers

    own = inspect.getmodule(model_class)
    imported = sorted((value for value in vars(own).values() if inspect.ismodule(value)
                       and value.__name__.startswith("clvlib.models.")),
                      key=lambda module: module.__name__)
    h = hashlib.sha256()
    for module in dict.fromkeys((priors, special, base, samplers, density, kernels, numerics,
                                 *imported)):
        h.update(Path(inspect.getfile(module)).read_bytes())
    if own is not None and own.__name__.startswith("clvlib."):
        h.update(Path(inspect.getfile(own)).read_bytes())
    else:  # a model written elsewhere (a notebook, a script): its class's own definition
        h.update(_definition_bytes(model_class))
    h.update(kernels.built_from().encode())  # the C source's digest, recorded by its build
    return h.hexdigest()


def _definition_bytes(model_class: type) -> bytes:
    """The compiled code of a class defined outside clvlib (a notebook cell has no source file
    to read): its methods, the functions its likelihood and closed forms hold, and the
    functions of its module those call, by name; and the repr of its other attributes. A
    change to any of them is a new cache key."""
    parts, seen = [], set()

    def add_function(name, fn):
        if id(fn) in seen:
            return
        seen.add(id(fn))
        parts.append(name.encode() + marshal.dumps(fn.__code__))
        for called in _called_functions(fn):
            add_function(called.__name__, called)

    def add(name, value):
        if inspect.isfunction(value):
            add_function(name, value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                add(f"{name}.{field.name}", getattr(value, field.name))
        elif not name.startswith("__"):
            parts.append(f"{name}={value!r}".encode())

    for klass in model_class.__mro__:
        if klass.__module__ == model_class.__module__:
            for name, value in sorted(vars(klass).items()):
                add(f"{klass.__name__}.{name}", value)
    return b"\0".join(parts)


def _called_functions(fn) -> list:
    """The functions of ``fn``'s own module that its code names (nested code included)."""
    names, stack = set(), [fn.__code__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if inspect.iscode(c))
    found = (fn.__globals__.get(name) for name in sorted(names))
    return [f for f in found if inspect.isfunction(f) and f.__module__ == fn.__module__]


@cache
def _package_versions() -> dict[str, str | None]:
    versions = {}
    for name in SAMPLING_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions
