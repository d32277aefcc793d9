"""Benchmarks of ipam-reconciler (issue 5): a generator of realistic address plans, the stage and
process timings, and side-by-side baselines. See ``docs/performance.md`` and ``python -m benchmarks.run --help``.
"""
