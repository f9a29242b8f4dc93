"""Write data/breast_cancer.csv: the reference model's training data, from scikit-learn.

The Wisconsin diagnostic breast cancer data ships inside scikit-learn, so this needs no
network. Columns are renamed to snake_case and the target is `malignant` (1 = malignant),
so the positive class is the one a screening model must find.

Usage: python data/make_data.py [OUTPUT_CSV]
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(output: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.rename(columns=lambda name: name.replace(" ", "_"))
    frame["malignant"] = 1 - bunch.target  # scikit-learn codes malignant as 0
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False, float_format="%.6g")
    print(f"wrote {len(frame)} rows x {frame.shape[1]} columns to {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "breast_cancer.csv")
