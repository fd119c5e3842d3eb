"""The one C extension, the log splitter (docs/adr/0006-native-log-splitter.md); the rest is pyproject.toml."""

from setuptools import Extension, setup

SPLIT = Extension(
    "detente.monitor._split",
    sources=["src/detente/monitor/_split.c"],
    extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror"],
)

setup(ext_modules=[SPLIT])
