"""The benchmark of issue 7: driftmatrix against the plain-nox way (``python benchmarks/run.py``).

Run on demand, never by the test suite. ``benchmarks/README.md`` says what each number means.
"""
