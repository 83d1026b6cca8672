"""Several Synthea exports as one training cohort (``medkg models train --kind sequence --data A --data B``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from graph_engine.errors import IngestError
from jobs.cli import main as root
from models.sequence.api import fingerprint, read_cohort

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[2] / "ingest" / "data" / "synthea-sample"


def _split(dst: Path, keep: set[str], before: str | None = None) -> Path:
    """The sample's rows of the patients in ``keep`` (events starting before ``before`` only, when given)."""
    dst.mkdir()
    for f in SAMPLE.glob("*.csv"):
        with open(f, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        head, body = rows[0], rows[1:]
        col = head.index("Id") if f.name == "patients.csv" else head.index("PATIENT")
        body = [r for r in body if r[col] in keep]
        if before and "START" in head:
            body = [r for r in body if r[head.index("START")] < before]
        with open(dst / f.name, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([head, *body])
    return dst


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[str], set[str]]:
    with open(SAMPLE / "patients.csv", newline="", encoding="utf-8") as fh:
        ids = [r["Id"] for r in csv.DictReader(fh)]
    a, b = set(ids[: len(ids) // 2]), set(ids[len(ids) // 2:])
    root_dir = tmp_path_factory.mktemp("exports")
    return _split(root_dir / "east", a), _split(root_dir / "west", b), a, b


def test_two_exports_read_as_the_cohort_they_were_cut_from(halves: tuple[Path, Path, set[str], set[str]]) -> None:
    a, b, ids_a, ids_b = halves
    whole, both = read_cohort(SAMPLE), read_cohort([a, b])
    assert sorted(both.patients["pid"]) == sorted(whole.patients["pid"])
    assert sorted(both.source_ids.values()) == sorted(ids_a | ids_b)
    for name in ("conditions", "medications", "procedures"):
        key = ["pid", "start", "code"]
        x = both.table(name).sort_values(key).reset_index(drop=True)[key]
        y = whole.table(name).sort_values(key).reset_index(drop=True)[key]
        assert x.equals(y), name
    assert both.end_date == whole.end_date
    assert both.reports["conditions.csv"].read == whole.reports["conditions.csv"].read


def test_the_same_patient_in_two_exports_is_refused(halves: tuple[Path, Path, set[str], set[str]]) -> None:
    a, _, ids_a, _ = halves
    with pytest.raises(IngestError, match="is also in .*east") as e:
        read_cohort([a, a])
    assert any(i in str(e.value) for i in ids_a)


def test_exports_ending_months_apart_are_refused(halves: tuple[Path, Path, set[str], set[str]],
                                                 tmp_path: Path) -> None:
    a, _, _, ids_b = halves
    early = _split(tmp_path / "early", ids_b, before="2015-01-01")
    with pytest.raises(IngestError, match="more than 31 days apart"):
        read_cohort([a, early])


def test_cli_trains_on_several_exports_and_records_each(halves: tuple[Path, Path, set[str], set[str]],
                                                        tmp_path: Path) -> None:
    a, b, _, _ = halves
    out = tmp_path / "m"
    cohort = json.dumps([{"seed": 1, "state": "Maine", "patients": 10}, {"seed": 2, "state": "Utah", "patients": 11}])
    args = ["models", "train", "--kind", "sequence", "--data", str(a), "--data", str(b), "--output", str(out),
            "--set", "epochs=1", "--set", "dim=8", "--set", "hidden=8", "--set", "feat_hidden=4",
            "--set", "cuts=2", "--set", "val_fraction=0.3", "--set", f"cohort={cohort}"]
    res = CliRunner().invoke(root, args)
    assert res.exit_code == 0, res.output
    data = json.loads((out / "model.json").read_text(encoding="utf-8"))["data"]
    assert data["source"] == "east + west"
    assert {"east/patients.csv", "west/patients.csv", "east/conditions.csv"} <= set(data["files_sha256"])
    assert data["n_patients_read"] == 21
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "seed 1, state Maine, 10 patients" in card and "seed 2, state Utah, 11 patients" in card


def test_other_kinds_take_one_data_path(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("text,label\na,b\n", encoding="utf-8")
    res = CliRunner().invoke(root, ["models", "train", "--kind", "text", "--data", str(f), "--data", str(f),
                                    "--output", str(tmp_path / "m")])
    assert res.exit_code == 2 and "takes one --data" in res.output


def test_fingerprint_keeps_exports_with_the_same_folder_name_apart(halves: tuple[Path, Path, set[str], set[str]],
                                                                   tmp_path: Path) -> None:
    a, _, _, ids_b = halves
    other = _split(tmp_path / "east", ids_b)   # another export in a folder also named "east"
    fp = fingerprint([a, other])
    assert fp["1-east/patients.csv"] != fp["2-east/patients.csv"]
    assert len(fp) == 2 * len(fingerprint(a))
