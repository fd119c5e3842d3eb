"""The one C extension, the log splitter (docs/adr/0006-native-log-splitter.md); the rest: pyproject.toml."""

from setuptools import Extension, setup

# warnings are shown, not fatal: a newer compiler must still build it; -O3 is Python's own level, which an
# -O2 here overrode (measured with the splitter's other changes in docs/monitor.md, "Twelfth session")
FLAGS = ["-O3", "-std=c11", "-Wall", "-Wextra"]

setup(
    ext_modules=[
        Extension(
            "detente.monitor._split", sources=["src/detente/monitor/_split.c"], extra_compile_args=FLAGS
        )
    ]
)
