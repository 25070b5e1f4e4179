"""Benchmarks: ``python -m issc.bench {live,compare,scale,idle,history} ... [--json]``.

Each command prints a table; with ``--json`` it prints one JSON object as its last line.
Figures are meant to be read as ratios against a baseline measured in the same run: the
machine is shared and noisy.
"""
