"""Build configuration for the optional compiled inner loops (``seccompgen._speedups``).

Everything else about the package is declared in ``pyproject.toml``.  The extension is
optional: where no C compiler or Python headers are available the build goes on without it,
and the parser and graph use their pure-Python loops.
"""

import os

from setuptools import Extension, setup

# SECCOMPGEN_BUILD_EXT=0 builds a pure wheel (py3-none-any), as the tracer image's wheelhouse
# does: that wheel installs into the image's Python whatever Python built it.
BUILD_EXT = os.environ.get("SECCOMPGEN_BUILD_EXT", "1") != "0"

setup(
    ext_modules=[
        Extension(
            "seccompgen._speedups",
            sources=["seccompgen/_speedups.c"],
            optional=True,
            extra_compile_args=["-O3"],
        )
    ]
    if BUILD_EXT
    else [],
)
