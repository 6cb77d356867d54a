"""Benchmarks run by `invoke bench`."""
