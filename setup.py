"""The one C extension, the log splitter (docs/adr/0006-native-log-splitter.md); the rest: pyproject.toml."""

from setuptools import Extension, setup

# warnings are shown, not fatal: a newer compiler must still build it
FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra"]

setup(
    ext_modules=[
        Extension(
            "detente.monitor._split", sources=["src/detente/monitor/_split.c"], extra_compile_args=FLAGS
        )
    ]
)
