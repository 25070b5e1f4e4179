"""Analyst review tools for operators: ``python -m issc.review export`` writes the crops that
analysts corrected or confirmed as a labelled set that ``python -m issc.eval plates --crops`` reads.

The review logic itself (queue priority, probable plates, look-alike proposals) is pure and lives in
:mod:`issc.plates.review`; the corrections live in the history store (:mod:`issc.store`).
"""
