"""Bad data fails the prep step with a message naming the file or the column."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnosis import prep
from diagnosis.schema import FEATURES, TARGET, DataError, read_csv
from tests.model.conftest import DATA


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_the_shipped_data_meets_the_contract(frame):
    assert list(frame.columns) == [*FEATURES, TARGET]
    assert len(frame) == 569
    assert set(frame[TARGET]) == {0, 1}


def test_an_empty_file_is_named(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(DataError, match=f"{path}: the file is empty"):
        read_csv(path)


def test_a_missing_column_is_named(tmp_path):
    header, *rows = DATA.read_text().splitlines()
    columns = header.split(",")
    drop = columns.index("mean_radius")
    kept = [
        ",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in [header, *rows]
    ]
    path = write(tmp_path, "\n".join(kept))
    with pytest.raises(DataError, match="missing column\\(s\\) 'mean_radius'"):
        read_csv(path)


def test_a_wrong_type_is_named_with_its_line(tmp_path):
    lines = DATA.read_text().splitlines()
    cells = lines[3].split(",")
    cells[1] = "abc"  # mean_texture
    lines[3] = ",".join(cells)
    path = write(tmp_path, "\n".join(lines))
    with pytest.raises(DataError, match="column 'mean_texture' must be numeric; line 4 has 'abc'"):
        read_csv(path)


def test_a_target_outside_0_and_1_is_rejected(tmp_path):
    lines = DATA.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",2"
    with pytest.raises(DataError, match="'malignant' must hold only 0 and 1"):
        read_csv(write(tmp_path, "\n".join(lines)))


def test_the_split_is_stratified_and_repeatable(frame):
    train, holdout = prep.split(frame)
    _, again_holdout = prep.split(frame)
    assert holdout.equals(again_holdout)
    assert len(holdout) == 143
    assert abs(holdout[TARGET].mean() - train[TARGET].mean()) < 0.01


def test_the_dataset_version_is_a_content_hash(tmp_path):
    a = write(tmp_path, "x\n1\n")
    assert prep.dataset_version(a) == prep.dataset_version(a)
    version = prep.dataset_version(a)
    a.write_text("x\n2\n")
    assert prep.dataset_version(a) != version


def test_the_prep_command_exits_with_the_reason_on_bad_data(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        prep.main(["--data", str(write(tmp_path, "")), "--dataset-name", "d", "--out", "out"])
    assert "prep: bad data:" in str(stopped.value.code)
    assert "the file is empty" in str(stopped.value.code)
