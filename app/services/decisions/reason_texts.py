"""Reasons written for a person: each row's top three inputs by the points they add, as
`Contract = Month-to-month (+18 pts)`, and numbers as a person writes them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.services.decisions.reasons import MIN_POINTS, REASON_COUNT
from app.services.preprocessing.columns import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from app.services.preprocessing.encoding import EncodedChunk


def points_text(points: float) -> str:
    """+18 pts, or +0.4 pts below one point."""
    return f"+{points:.0f} pts" if points >= 0.95 else f"+{points:.1f} pts"


def number_text(value: float) -> str:
    """A number as a person writes it: 2, 70.35, 1,889.5."""
    if not math.isfinite(value):
        return "?"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _points_table() -> np.ndarray:
    """Text of every amount of points from 0.1 to 100, indexed by tenths of a point."""
    texts = [
        f"+{tenths / 10:.1f} pts" if tenths < 10 else f"+{tenths // 10} pts"
        for tenths in range(1001)
    ]
    return np.array(texts, dtype=object)


_POINTS = _points_table()


def _points_keys(points: np.ndarray) -> np.ndarray:
    points = np.clip(np.nan_to_num(points, neginf=0.0), 0.0, 100.0)
    whole = np.rint(points).astype(np.int64) * 10
    tenths = np.maximum(np.rint(points * 10).astype(np.int64), 1)
    return np.where(points >= 0.95, whole, tenths)


def no_reasons(rows: int) -> list[Any]:
    """The reason slots of `rows` rows that have none (Arrow text, "" everywhere)."""
    import pyarrow as pa

    empty = pa.repeat(pa.scalar("", pa.string()), rows)
    return [empty] * REASON_COUNT


def top_reasons(
    encoded: EncodedChunk, contributions: np.ndarray, excluded: np.ndarray
) -> list[Any]:
    """Per reason slot (three), the reason of every row as Arrow text ("" where fewer inputs
    raise it).

    `excluded` (rows x 16) marks inputs the model could not read as written (they have an input
    warning instead): they are never offered as reasons. Every row's reason is first a pair of
    numbers (which "input = value" label, how many points), and each distinct pair is written
    once: a chunk holds far fewer of them than rows.
    """
    import pandas as pd
    import pyarrow as pa

    layout = encoded.layout
    rows = encoded.rows
    # The top three by repeated argmax (its first maximum: ties go to the earlier input, as a
    # stable sort would put them), on a copy whose chosen entries are struck out in turn.
    raised = np.array(contributions, dtype=np.float64, order="C")
    np.putmask(raised, excluded | ~(raised >= MIN_POINTS), -np.inf)
    every = np.arange(rows)
    order = np.empty((rows, REASON_COUNT), dtype=np.intp)
    chosen = np.empty((rows, REASON_COUNT), dtype=np.float64)
    for slot in range(REASON_COUNT):
        order[:, slot] = raised.argmax(axis=1)
        chosen[:, slot] = raised[every, order[:, slot]]
        raised[every, order[:, slot]] = -np.inf
    given = np.isfinite(chosen)
    categorical = len(CATEGORICAL_FEATURES)
    # Label ids: "Contract = Month-to-month" for every known category at offsets[i] + code,
    # then, per number, each distinct value of the rows that give that number as a reason.
    texts = [
        f"{name} = {category}"
        for i, name in enumerate(CATEGORICAL_FEATURES)
        for category in layout.categories[i]
    ]
    label = np.zeros((len(FEATURES), rows), dtype=np.intp)  # input by input, then row by row
    for i in range(categorical):
        np.add(layout.offsets[i], np.maximum(encoded.codes[i], 0), out=label[i])
    for j, name in enumerate(NUMERIC_FEATURES):
        giving = ((order == categorical + j) & given).any(axis=1)
        distinct, inverse = np.unique(encoded.numbers[giving, j], return_inverse=True)
        label[categorical + j, giving] = len(texts) + inverse.reshape(-1)
        texts += [f"{name} = {number_text(v)}" for v in distinct.tolist()]  # Python floats
    slots: list[Any] = []
    for slot in range(REASON_COUNT):
        pairs = label[order[:, slot], every] * len(_POINTS)
        pairs += _points_keys(chosen[:, slot])
        inverse, distinct = pd.factorize(pairs[given[:, slot]])
        written = pa.array(
            [f"{texts[pair // len(_POINTS)]} ({_POINTS[pair % len(_POINTS)]})" for pair in distinct]
            + [""],
            pa.string(),
        )
        at = np.full(rows, len(distinct), dtype=np.int32)
        at[given[:, slot]] = inverse
        slots.append(written.take(pa.array(at)))
    return slots
