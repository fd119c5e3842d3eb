"""Benchmarks of the interference monitor (plain scripts with a ``main()``)."""
