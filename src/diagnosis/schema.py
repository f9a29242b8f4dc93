"""The data contract: which columns the model reads, and the checks bad data fails."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

MEASURES = (
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave_points",
    "symmetry",
    "fractal_dimension",
)
FEATURES: tuple[str, ...] = (
    *(f"mean_{m}" for m in MEASURES),
    *(f"{m}_error" for m in MEASURES),
    *(f"worst_{m}" for m in MEASURES),
)
TARGET = "malignant"


class DataError(ValueError):
    """The data breaks the contract; the message names the file and the column."""


def read_csv(path: Path) -> pd.DataFrame:
    """Read and check a data file: every feature and the target, numeric, no gaps."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    return check(frame, str(path))


def check(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """`frame` with features as floats and the target as 0/1, or DataError naming the column."""
    if frame.empty:
        raise DataError(f"{source}: no rows")
    missing = [c for c in (*FEATURES, TARGET) if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(repr(c) for c in missing)}")
    for column in FEATURES:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column][values.isna() & frame[column].notna()]
        if not bad.empty:
            row = int(bad.index[0]) + 2  # header is line 1
            raise DataError(
                f"{source}: column {column!r} must be numeric; line {row} has {bad.iloc[0]!r}"
            )
        if values.isna().any():
            raise DataError(
                f"{source}: column {column!r} has {int(values.isna().sum())} empty value(s)"
            )
        frame[column] = values.astype(float)
    if not frame[TARGET].isin([0, 1]).all():
        raise DataError(f"{source}: column {TARGET!r} must hold only 0 and 1")
    frame[TARGET] = frame[TARGET].astype(int)
    return frame[[*FEATURES, TARGET]]
