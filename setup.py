"""Build configuration for the optional compiled inner loops (``seccompgen._speedups``).

Everything else about the package is declared in ``pyproject.toml``.  The extension is
optional: where no C compiler or Python headers are available the build goes on without it,
and the parser and graph use their pure-Python loops.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "seccompgen._speedups",
            sources=["seccompgen/_speedups.c"],
            optional=True,
            extra_compile_args=["-O3"],
        )
    ]
)
