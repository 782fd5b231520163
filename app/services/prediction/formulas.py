"""Text a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+1+1`, `@SUM(A1)`), made inert
with a leading quote in every download; a plain number such as -3.5 or +12 is left as it is."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from app.services.preprocessing.arrow_text import any_starts_with

# A cell starting like this would run as a formula in a spreadsheet...
FORMULA_START = r"^[=+\-@\t\r]"
# ...unless it is a plain number such as -3.5 or +12.
PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_FORMULA_RE = re.compile(FORMULA_START)
NUMBER_RE = re.compile(PLAIN_NUMBER)
# The first bytes FORMULA_START matches (each one ASCII, so a whole first character).
_FORMULA_FIRST = np.zeros(256, dtype=bool)
_FORMULA_FIRST[list(b"=+-@\t\r")] = True


def neutralise(value: str) -> str:
    """A text cell a spreadsheet would execute as a formula, made inert by a leading quote."""
    if value and _FORMULA_RE.match(value) and not NUMBER_RE.match(value):
        return "'" + value
    return value


def neutralised_text(array: Any) -> Any:
    """An Arrow text array with every formula-like value neutralised (in the usual case, where
    no cell starts as a formula would, one look at each cell's first byte)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not any_starts_with(array, _FORMULA_FIRST):
        return array
    starts = pc.match_substring_regex(array, FORMULA_START)
    if not pc.any(starts).as_py():
        return array
    risky = pc.and_not(starts, pc.match_substring_regex(array, PLAIN_NUMBER)).fill_null(False)
    if not pc.any(risky).as_py():
        return array
    return pc.if_else(
        risky,
        pc.binary_join_element_wise(pa.scalar("'", array.type), array, pa.scalar("", array.type)),
        array,
    )
