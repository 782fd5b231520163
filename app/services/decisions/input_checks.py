"""Input warnings: the cells of a row the model could not read as written, and what it did
instead, e.g. `tenure 'abc' is not a number; the training median (29) was used`.

Flagged: a number column holding something that is not a number (or a negative number where
the model reads its logarithm), a category never seen in training, a blank category, and a blank
tenure or MonthlyCharges. Valid and never flagged: SeniorCitizen as Yes/No or 0/1, and a blank
TotalCharges (a new customer has not been charged yet; the model fills in the training median
as it was trained to).

The checks read the chunk's one encoding (`EncodedChunk`: codes, missing cells, numbers as
written); the upload's text is looked at only for the cells that are flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.services.decisions.reason_texts import number_text
from app.services.preprocessing.columns import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from app.services.preprocessing.encoding import EncodedChunk

# A blank here is a customer not charged yet: valid, filled in as in training.
BLANK_IS_VALID = {"TotalCharges"}
VALUE_CHARS = 40  # a value longer than this is shown cut, ending in an ellipsis


@dataclass
class InputWarnings:
    messages: list[str]  # per row: "" when every input was usable
    flagged: np.ndarray  # rows x 16 inputs (FEATURES order): the input could not be read as is

    @property
    def rows_flagged(self) -> np.ndarray:
        return np.asarray(self.flagged.any(axis=1), dtype=bool)


def shown(value: object) -> str:
    """A cell's text as a warning quotes it: one line, at most VALUE_CHARS characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def check_inputs(
    original: pd.DataFrame, mapping: dict[str, str], encoded: EncodedChunk
) -> InputWarnings:
    """The input warnings of each row of the chunk `original`, as encoded in `encoded`."""
    layout = encoded.layout
    rows = encoded.rows
    flagged = np.zeros((rows, len(FEATURES)), dtype=bool)
    notes: dict[int, list[str]] = {}

    def note(row_positions: np.ndarray, feature: int, write) -> None:
        if not len(row_positions):
            return
        flagged[row_positions, feature] = True
        column = original[mapping[FEATURES[feature]]]
        texts = column.iloc[row_positions].astype(str).tolist()
        for position, text in zip(row_positions.tolist(), texts, strict=True):
            notes.setdefault(position, []).append(write(text))

    for i, name in enumerate(CATEGORICAL_FEATURES):
        fill = layout.category_fill[i]
        missing = encoded.missing[i]
        unseen = (encoded.codes[i] < 0) & ~missing
        if missing.any():
            text = original[mapping[name]].astype(str).str.strip()
            blank = missing & (text == "").to_numpy()
            unreadable = missing & ~blank
            note(
                np.flatnonzero(blank),
                i,
                lambda _t, n=name, f=fill: f"{n} is blank; the most common value ({f}) was used",
            )
            note(
                np.flatnonzero(unreadable),
                i,
                lambda t, n=name, f=fill: (
                    f"{n} '{shown(t)}' is not Yes/No or 0/1; the most common value ({f}) was used"
                ),
            )
        note(
            np.flatnonzero(unseen),
            i,
            lambda t, n=name: (
                f"{n} '{shown(t)}' was never seen in training, so the model ignored it"
            ),
        )
    for j, name in enumerate(NUMERIC_FEATURES):
        feature = len(CATEGORICAL_FEATURES) + j
        values = encoded.numbers[:, j]
        median = number_text(float(layout.number_fill[j]))
        absent = np.isnan(values)
        if absent.any():
            text = original[mapping[name]].astype(str).str.strip()
            blank = absent & (text == "").to_numpy()
            junk = absent & ~blank
            if name not in BLANK_IS_VALID:
                note(
                    np.flatnonzero(blank),
                    feature,
                    lambda _t, n=name, m=median: (
                        f"{n} is blank; the training median ({m}) was used"
                    ),
                )
            note(
                np.flatnonzero(junk),
                feature,
                lambda t, n=name, m=median: (
                    f"{n} '{shown(t)}' is not a number; the training median ({m}) was used"
                ),
            )
        if layout.logged:
            note(
                np.flatnonzero(values < 0),
                feature,
                lambda t, n=name: f"{n} {shown(t.strip())} is below zero; the model read it as 0",
            )
    messages = [""] * rows
    for position, parts in notes.items():
        messages[position] = "; ".join(parts)
    return InputWarnings(messages, flagged)
