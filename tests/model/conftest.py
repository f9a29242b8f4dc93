"""Fixtures for the reference model's tests: the real data, and a tiny trained model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from diagnosis.prep import split
from diagnosis.schema import read_csv
from diagnosis.train import fit

DATA = Path(__file__).resolve().parents[2] / "data" / "breast_cancer.csv"


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    return read_csv(DATA)


@pytest.fixture(scope="session")
def trained(frame: pd.DataFrame):
    train, holdout = split(frame)
    return fit(train, regularization=0.01), holdout
