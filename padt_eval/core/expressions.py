"""When two referring expressions are "the same expression" (the image-blind alarm
groups samples by it): equal after stripping surrounding space and lower-casing. It lives
in core because the split's columns (data/query_columns.py) precompute the groups and
the alarms (scoring/alarm_watch.py) compute them for the object path: one rule for both."""

from __future__ import annotations


def expression_group(expression: str) -> str:
    return expression.strip().lower()
