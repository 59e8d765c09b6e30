"""Benchmark scripts (``python benchmarks/<name>.py``) and the model-comparison harness
(`benchmarks.harness`). They need a clone of the repository: none of this is in the installed package."""
