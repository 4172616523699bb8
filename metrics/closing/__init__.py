"""Closing months: published figures and restatements (METRICS.md, "Closing a month").

- maths.py: the restatement of a figure split into its data and assumptions parts (pure).
- selectors.py: the months in force, the published rows, the restatements the board shows,
  and the data fingerprint that tells whether a publication's basis must be recomputed.
- services.py: close, reopen, the monthly automatic close, and the refresh of the basis that
  every recompute runs.
"""
