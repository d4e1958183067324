"""prepare_data.py: the splits are deterministic, sized 70/15/15, stratified, and fail cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import RAW_ABALONE, REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "prepare_data.py"
HEADER = "sex,length,diameter,height,whole_weight,shucked_weight,viscera_weight,shell_weight,rings"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def read_split(outdir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(outdir / name / f"{name}.csv")


def test_splits_are_70_15_15_of_every_row_with_a_header(abalone_splits: Path) -> None:
    sizes = {
        name: len(read_split(abalone_splits, name)) for name in ("train", "validation", "test")
    }
    assert sum(sizes.values()) == 4177
    assert sizes["train"] == pytest.approx(0.70 * 4177, abs=2)
    assert sizes["validation"] == pytest.approx(0.15 * 4177, abs=2)
    assert sizes["test"] == pytest.approx(0.15 * 4177, abs=2)
    for name in ("train", "validation", "test"):
        first_line = (abalone_splits / name / f"{name}.csv").read_text().splitlines()[0]
        assert first_line == HEADER


def test_splits_are_disjoint_and_cover_the_raw_rows(abalone_splits: Path) -> None:
    raw = pd.read_csv(RAW_ABALONE, header=None, names=HEADER.split(","))
    parts = pd.concat([read_split(abalone_splits, n) for n in ("train", "validation", "test")])
    key = list(raw.columns)
    assert sorted(map(tuple, parts[key].to_numpy().tolist())) == sorted(
        map(tuple, raw[key].to_numpy().tolist())
    )


def test_stratification_keeps_the_rings_distribution(abalone_splits: Path) -> None:
    means = {n: read_split(abalone_splits, n)["rings"].mean() for n in ("train", "test")}
    assert means["train"] == pytest.approx(9.934, abs=0.15)
    assert means["test"] == pytest.approx(9.934, abs=0.15)


def test_same_seed_gives_identical_bytes_and_another_seed_differs(
    tmp_path: Path, abalone_splits: Path
) -> None:
    assert run(str(tmp_path / "again")).returncode == 0
    assert run(str(tmp_path / "other"), "--seed", "7").returncode == 0
    for name in ("train", "validation", "test"):
        original = (abalone_splits / name / f"{name}.csv").read_bytes()
        assert (tmp_path / "again" / name / f"{name}.csv").read_bytes() == original
    other = (tmp_path / "other" / "test" / "test.csv").read_bytes()
    assert other != (abalone_splits / "test" / "test.csv").read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("M,1,2\n", "has 3 columns per row, expected 9"),
        ("X,0.1,0.1,0.1,0.1,0.1,0.1,0.1,9\n", "line 1: sex 'X' is not one of M, F, I"),
        ("M,0.1,oops,0.1,0.1,0.1,0.1,0.1,9\n", "line 1: column diameter value 'oops'"),
        ("M,0.1,0.1,0.1,0.1,0.1,0.1,0.1,9.5\n", "column rings must hold whole numbers"),
        ("", "input file is empty"),
    ],
)
def test_bad_input_gets_one_line_error_and_leaves_nothing(
    tmp_path: Path, content: str, message: str
) -> None:
    raw = tmp_path / "bad.data"
    raw.write_text(content)
    result = run(str(tmp_path / "out"), "--input", str(raw))
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.data"]


def test_missing_input_and_bad_seed_are_refused(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "out"), "--input", str(tmp_path / "nope.data"))
    assert missing.returncode == 1
    assert "input file not found" in missing.stderr
    bad_seed = run(str(tmp_path / "out"), "--seed", "x")
    assert bad_seed.returncode == 2
    assert "invalid int value: 'x'" in bad_seed.stderr
    assert not (tmp_path / "out").exists()
