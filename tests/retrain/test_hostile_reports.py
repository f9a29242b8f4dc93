"""A monitor report handed to `mlops retrain-reason` is read as untrusted input: whatever
it holds, the answer is exit 2 naming the file, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not UTF-8", b"[" * 100_000 + b"]" * 100_000, b'{"breached": tru'],
    ids=["non-utf8", "nested-too-deep", "truncated"],
)
def test_an_unreadable_monitor_report_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    assert run_cli("init", str(tmp_path / "demo")).exit_code == 0
    monkeypatch.chdir(tmp_path / "demo")
    report = tmp_path / "report $(touch pwned).json"
    report.write_bytes(content)

    result = run_cli("retrain-reason", "--monitor-report", str(report))

    assert result.exit_code == 2, result.stderr
    assert "not a readable JSON report" in result.stderr
    assert "pwned).json" in result.stderr
    assert not (tmp_path / "demo" / "pwned").exists()
