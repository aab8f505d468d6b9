"""The compiled log densities (clvlib/models/_kernels.c); everything else is in pyproject.toml.

The extension records the SHA-256 of the source it was built from, so that clvlib refuses a
build older than the C file beside it (clvlib.models.kernels).
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "clvlib/models/_kernels.c"
DIGEST = hashlib.sha256(Path(__file__).with_name("clvlib").joinpath(
    "models", "_kernels.c").read_bytes()).hexdigest()

setup(
    ext_modules=[
        Extension(
            "clvlib.models._kernels",
            [SOURCE],
            define_macros=[("CLV_SOURCE_SHA256", f'"{DIGEST}"')],
            # No reassociation and no finite-math assumption (see the C file's head); fused
            # multiply-adds allowed.
            extra_compile_args=["-O3", "-fno-math-errno", "-fno-trapping-math",
                                "-ffp-contract=fast"],
        )
    ]
)
