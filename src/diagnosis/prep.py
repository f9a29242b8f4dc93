"""Prep step: check the raw data, split it into training and holdout sets, record its version."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from diagnosis.schema import TARGET, DataError, read_csv

HOLDOUT_FRACTION = 0.25
SEED = 42


def dataset_version(path: Path) -> str:
    """A content hash: the same bytes always give the same version."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified, seeded split: the holdout is the same for challenger and champion."""
    train, holdout = train_test_split(
        frame, test_size=HOLDOUT_FRACTION, stratify=frame[TARGET], random_state=SEED
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="raw CSV file")
    parser.add_argument("--dataset-name", required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the prepared data")
    args = parser.parse_args(argv)
    try:
        frame = read_csv(args.data)
    except DataError as exc:
        sys.exit(f"prep: bad data: {exc}")
    train, holdout = split(frame)
    args.out.mkdir(parents=True, exist_ok=True)
    train.to_csv(args.out / "train.csv", index=False)
    holdout.to_csv(args.out / "holdout.csv", index=False)
    dataset = {
        "name": args.dataset_name,
        "version": dataset_version(args.data),
        "rows": len(frame),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
    }
    (args.out / "dataset.json").write_text(json.dumps(dataset, indent=2))
    print(f"prep: {dataset['rows']} rows of {args.dataset_name} version {dataset['version']}")


if __name__ == "__main__":
    main()
