"""Evals and benchmarks: quality and speed of the real pipeline, measured, rerunnable."""
