"""PHI fences (issue #21 item 2): pseudonymous ids, a real ``synthetic`` boolean, patient-field
allow-lists, record labels refused by the generic loader, and refusals that never echo the value.

No services: the generic loader runs into a :class:`graph_engine.bulk.BulkSink` (the bulk path's
writer; the online path shares the same validation, tested against Neo4j in
``tests/integration/test_phi_neo4j.py``)."""

from __future__ import annotations

import json
import logging
import random
import uuid
from pathlib import Path

import pytest

from graph_engine.bulk import BulkSink
from graph_engine.errors import IngestError, ModelError
from graph_engine.phi import PHIError, check_case_id, check_patient_id, id_problem, parse_synthetic
from graph_engine.predictions import replace_predictions
from graph_engine.schema import default_schema
from ingest.curated import _run_loader
from graph_engine.synthea import Pseudonymizer
from recommend.patients import PATIENT_FIELDS, Patient, read_patients

pytestmark = pytest.mark.unit

#: ids a person could be found by: each is refused (the issue's two examples first)
REFUSED_IDS = [
    "John_Smith_1970-01-01", "JohnSmith19700101", "P-1970_01_01", "P1970.01.31", "P19700131", "P31011970",
    "P01311970", "P01Jan1970", "PJan-01-1970", "p1970jan01", "MRN-123-45-6789", "P555.123.4567",
    "tel-44-20-7946-0958", "John_Smith", "JohnSmith", "Smith.John", "Mary-Jane_Doe", "patientJohnSmith42",
    "John_Smith_42", "PAT:JaneDoe",
]
#: pseudonyms: each is accepted
ACCEPTED_IDS = [
    "SYN:3f9c19700101aa0b1c2d3e4f", "P000123", "SYNTH:P0001", "SYNTH:PQT1", "patient-7f3a91", "PAT:1",
    "Patient_0001", "case-2024-001", "P-1-2-3", "x123e4567-e89b-12d3-a456-426614174000",
    "P19700101-e89b-42d3-a456-426614174000",
]


@pytest.mark.parametrize("value", REFUSED_IDS)
def test_refused_patient_ids_never_echo_the_value(value: str) -> None:
    with pytest.raises(PHIError) as e:
        check_patient_id(value)
    assert value not in str(e.value) and "refused" in str(e.value)
    with pytest.raises(PHIError):
        check_case_id(value)


@pytest.mark.parametrize("value", ACCEPTED_IDS)
def test_pseudonyms_are_accepted(value: str) -> None:
    assert check_patient_id(value) == value and id_problem(value) is None


@pytest.mark.parametrize("value", ["note-01", "42", "img-7", "pmnist-val-0001", "pneumonia/IM-0115-0001.jpeg",
                                   "NORMAL/person1_bacteria_1.jpeg", "123e4567-e89b-12d3-a456-426614174000"])
def test_case_ids_of_the_shipped_readers_are_accepted(value: str) -> None:
    assert check_case_id(value) == value


@pytest.mark.parametrize("value", ["pneumonia/01/31/1970.png", "scans/John_Smith.png", "a" * 300, "", None])
def test_case_ids_refused(value: object) -> None:
    with pytest.raises(PHIError):
        check_case_id(value)


def test_keyed_hashes_and_uuids_always_pass() -> None:
    """A hex digest can hold '19700101' by chance: 20,000 seeded keyed pseudonyms and UUIDs all pass."""
    rng = random.Random(21)
    for i in range(10_000):
        pseudo = Pseudonymizer(rng.randbytes(32))
        assert id_problem(pseudo(f"source-{i}")) is None
        assert check_case_id(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    # the exemption is for hash-like runs only: a date next to a short hex part is still found
    assert id_problem("abc-19700101") is not None


@pytest.mark.parametrize("value,expected", [(True, True), (False, False), ("true", True), ("FALSE", False),
                                            (" True ", True)])
def test_synthetic_accepts_booleans(value: object, expected: bool) -> None:
    assert parse_synthetic(value) is expected


@pytest.mark.parametrize("value", ["yes", "no", "1", 1, 0, None, "", [], "John Smith"])
def test_synthetic_refuses_anything_else(value: object) -> None:
    with pytest.raises(PHIError) as e:
        parse_synthetic(value)
    assert "John Smith" not in str(e.value)


# ------------------------------------------------------------------ the JSONL patient importer
def _jsonl(tmp_path: Path, *objs: object) -> Path:
    p = tmp_path / "patients.jsonl"
    p.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return p


@pytest.mark.parametrize("pid", ["John_Smith_1970-01-01", "JohnSmith19700101", "PAT:123-45-6789"])
def test_patient_file_refuses_phi_ids_without_echoing(tmp_path: Path, pid: str, caplog: pytest.LogCaptureFixture,
                                                      capsys: pytest.CaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = _jsonl(tmp_path, {"id": "PAT:1"}, {"id": pid})
    with pytest.raises(IngestError) as e:
        read_patients(path)
    msg = str(e.value)
    assert "line 2" in msg and "patient id" in msg and pid not in msg
    out = capsys.readouterr()
    assert pid not in caplog.text and pid not in out.out + out.err


@pytest.mark.parametrize("value", ["yes", 1, None, "John Smith"])
def test_patient_file_synthetic_must_be_boolean(tmp_path: Path, value: object) -> None:
    with pytest.raises(IngestError) as e:
        read_patients(_jsonl(tmp_path, {"id": "PAT:1", "synthetic": value}))
    assert "synthetic" in str(e.value) and "line 1" in str(e.value) and "John Smith" not in str(e.value)


def test_patient_file_synthetic_strings_become_booleans(tmp_path: Path) -> None:
    pats = read_patients(_jsonl(tmp_path, {"id": "PAT:1", "synthetic": "true"}, {"id": "PAT:2", "synthetic": "false"},
                                {"id": "PAT:3"}))
    assert [p.synthetic for p in pats] == [True, False, False]
    assert all(type(p.synthetic) is bool for p in pats)


def test_patient_file_fields_are_an_allow_list(tmp_path: Path) -> None:
    assert set(PATIENT_FIELDS) == {"id", "synthetic", "conditions", "current_drugs", "avoid_side_effects", "allergies"}
    with pytest.raises(IngestError) as e:
        read_patients(_jsonl(tmp_path, {"id": "PAT:1", "birth_date": "1970-01-01", "name": "Jane Doe"}))
    msg = str(e.value)
    assert "'birth_date'" in msg and "'name'" in msg and "1970-01-01" not in msg and "Jane Doe" not in msg
    # a key that is itself a value (a name pasted as a key) is counted, not shown
    with pytest.raises(IngestError) as e:
        read_patients(_jsonl(tmp_path, {"id": "PAT:1", "Jane Doe 1970-01-01": True}))
    assert "Jane Doe" not in str(e.value) and "1 key(s) not shown" in str(e.value)


def test_duplicate_patient_names_the_earlier_line(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"line 3.*same as line 1"):
        read_patients(_jsonl(tmp_path, {"id": "PAT:1"}, {"id": "PAT:2"}, {"id": "PAT:1"}))


def test_patient_object_refuses_phi_and_non_boolean_synthetic() -> None:
    from graph_engine.errors import RecommendError

    with pytest.raises(RecommendError):
        Patient("JohnSmith19700101")
    with pytest.raises(RecommendError):
        Patient("PAT:1", synthetic="yes")  # type: ignore[arg-type]
    assert Patient("PAT:1", synthetic="true").synthetic is True  # type: ignore[arg-type]


# ------------------------------------------------------------------ the generic loader
RECORD_LABELS = ["Patient", "Case", "Run", "Recommendation", "Diagnosis", "Prediction", "Model", "Article", "Allergen"]
SECRET = "John Smith 1970-01-01"


def _generic(tmp_path: Path, nodes: str, edges: str) -> tuple[Path, Path]:
    n, e = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    n.write_text(nodes, encoding="utf-8")
    e.write_text(edges, encoding="utf-8")
    return n, e


def _load(tmp_path: Path, n: Path, e: Path, on_error: str = "fail", schema=None):
    sink = BulkSink(tmp_path / "bulk", schema=schema or default_schema())
    (tmp_path / "bulk").mkdir(exist_ok=True)
    try:
        return _run_loader(sink, "generic", n, e, on_error, tmp_path / "rejects.tsv", 1000, None, False)  # type: ignore[arg-type]
    finally:
        sink.close()


def test_every_schema_record_label_is_a_record_label() -> None:
    assert set(default_schema().record_labels) <= set(RECORD_LABELS)


@pytest.mark.parametrize("label", RECORD_LABELS)
def test_generic_loader_refuses_record_label_nodes(tmp_path: Path, label: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    n, e = _generic(tmp_path, f"id,label,name\nDOID:1,Disease,flu\n\"{SECRET}\",{label},\"{SECRET}\"\n",
                    "source,type,target\n")
    with pytest.raises(IngestError) as err:
        _load(tmp_path, n, e)
    msg = str(err.value)
    assert "nodes.csv, line 3" in msg and repr(label) in msg and "record label" in msg
    assert "medkg " in msg or "job" in msg  # points to what writes it
    assert SECRET not in msg and SECRET not in caplog.text


def test_generic_loader_patient_row_points_to_the_patient_importer(tmp_path: Path) -> None:
    n, e = _generic(tmp_path, f"id,label,synthetic:bool\n\"{SECRET}\",Patient,true\n", "source,type,target\n")
    with pytest.raises(IngestError, match="medkg ingest patients"):
        _load(tmp_path, n, e)


def test_generic_loader_refuses_forged_runs_and_record_edges(tmp_path: Path) -> None:
    n, e = _generic(tmp_path, "id,label\nDOID:1,Disease\n",
                    f"source,source_label,type,target,target_label\n\"{SECRET}\",Patient,HAS_CONDITION,DOID:1,Disease\n")
    with pytest.raises(IngestError) as err:
        _load(tmp_path, n, e)
    assert "edges.csv, line 2" in str(err.value) and "source_label" in str(err.value) and SECRET not in str(err.value)
    n, e = _generic(tmp_path, "id,label,status\nrun-1,Run,succeeded\n", "source,type,target\n")
    with pytest.raises(IngestError, match="'Run' is a record label"):
        _load(tmp_path, n, e)
    n, e = _generic(tmp_path, "id,label\nDOID:1,Disease\n",
                    "source,type,target,target_label\nDOID:1,PRODUCED_BY,run-1,Run\n")
    with pytest.raises(IngestError, match="target_label label 'Run' is a record label"):
        _load(tmp_path, n, e)


def test_generic_loader_skip_mode_withholds_phi_from_rejects(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """With --on-error skip: the record row and every edge touching it are rejected, the raw text is withheld,
    the rest loads, and read = written + rejected."""
    caplog.set_level(logging.DEBUG)
    n, e = _generic(tmp_path,
                    f"id,label,name\nDOID:1,Disease,flu\n\"{SECRET}\",Patient,\"{SECRET}\"\nDRUGBANK:DB1,Drug,x\n",
                    f"source,type,target\n\"{SECRET}\",HAS_CONDITION,DOID:1\nDRUGBANK:DB1,TREATS,DOID:1\n")
    summary = _load(tmp_path, n, e, on_error="skip")
    assert summary.balanced() and summary.rejected == 2 and summary.written == 3
    assert "Patient" not in summary.nodes
    rejects = (tmp_path / "rejects.tsv").read_text(encoding="utf-8")
    assert SECRET not in rejects and SECRET not in caplog.text
    assert "refused at nodes.csv line 3" in rejects and rejects.count("(withheld)") == 2
    written = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "bulk").rglob("*.csv"))
    assert SECRET not in written


def test_generic_loader_refuses_labels_a_schema_adds_as_records(tmp_path: Path) -> None:
    schema = default_schema().extend(record_labels=["Trial"])
    n, e = _generic(tmp_path, "id,label\nT:1,Trial\n", "source,type,target\n")
    with pytest.raises(IngestError, match="'Trial' is a record label"):
        _load(tmp_path, n, e, schema=schema)


def test_generic_loader_still_loads_entities(tmp_path: Path) -> None:
    n, e = _generic(tmp_path, "id,label,name\nDOID:1,Disease,flu\nDRUGBANK:DB1,Drug,x\n",
                    "source,type,target\nDRUGBANK:DB1,TREATS,DOID:1\n")
    s = _load(tmp_path, n, e)
    assert s.written == 3 and s.rejected == 0


# ------------------------------------------------------------------ Case writers
class _NoGraph:
    """A client whose transactions must never run (the refusal comes first)."""

    schema = default_schema()

    def run_in_transaction(self, work):  # pragma: no cover - reaching it is the failure
        raise AssertionError("a transaction was opened")

    def create_run(self, *a, **k):  # pragma: no cover
        raise AssertionError("a Run was opened")


def test_diagnosis_write_back_refuses_phi_case_ids_before_any_run() -> None:
    from models import load_model, predict_records
    from models.records import TextRecord
    from models.writeback import write_diagnoses

    model = load_model(kind="text")
    report = predict_records(model, [TextRecord("case-1", "high fever and chills"),
                                     TextRecord(SECRET.replace(" ", "_"), "itchy rash")])
    with pytest.raises(ModelError) as e:
        write_diagnoses(_NoGraph(), model, report)  # type: ignore[arg-type]
    msg = str(e.value)
    assert "record 2 of 2" in msg and "date" in msg and "John" not in msg and "1970" not in msg


def test_prediction_targets_created_from_input_are_checked() -> None:
    from models.writeback import DIAGNOSIS

    rows = [{"id": "d1", "for": "JohnSmith", "object": None, "props": {"model": "m"}}]
    with pytest.raises(ModelError) as e:
        replace_predictions(_NoGraph(), "run-1", DIAGNOSIS, ["JohnSmith"], rows, error=ModelError)  # type: ignore[arg-type]
    assert "JohnSmith" not in str(e.value) and "personal name" in str(e.value)


# ------------------------------------------------------------------ Synthea importer
def test_synthea_pseudonyms_are_checked_and_columns_counted(tmp_path: Path) -> None:
    from ingest.synthea.graph import build_records, columns_not_read
    from ingest.synthea.mapping import Linker
    from graph_engine.synthea import read_synthea
    from tests.unit.test_synthea_reader import _export

    d = _export(tmp_path)
    linker = Linker.from_nodes([])
    nodes, _, _ = build_records(read_synthea(d, Pseudonymizer(b"k" * 32)), linker)
    assert all(check_patient_id(r.id) for r in nodes if r.label == "Patient")
    with pytest.raises(IngestError) as e:  # a pseudonym function that leaks names is refused, naming no one
        build_records(read_synthea(d, lambda src: f"Zebulon_Quuxington_{src}"), linker)
    assert "patients.csv" in str(e.value) and "Zebulon" not in str(e.value)
    counts = columns_not_read(d, ["patients.csv"])
    assert counts["patients.csv"] == 28 - 4  # only Id, BIRTHDATE, DEATHDATE, GENDER of the header are read


def test_loader_messages_withhold_ids_that_look_like_phi(tmp_path: Path) -> None:
    """An edge to an id the load cannot place: a CURIE is named, a PHI-looking id is withheld."""
    n, e = _generic(tmp_path, "id,label\nDOID:1,Disease\n", f"source,type,target\n\"{SECRET}\",TREATS,DOID:1\n")
    with pytest.raises(IngestError) as err:
        _load(tmp_path, n, e)
    assert "cannot tell the label of source (withheld" in str(err.value) and SECRET not in str(err.value)
    n, e = _generic(tmp_path, "id,label\nDOID:1,Disease\n", "source,type,target\nDRUGBANK:DB9,TREATS,DOID:1\n")
    with pytest.raises(IngestError, match="'DRUGBANK:DB9'"):
        _load(tmp_path, n, e)
    n, e = _generic(tmp_path, "id,label\nDOID:1,Disease\n",
                    f"source,source_label,type,target\n\"{SECRET}\",Drug,TREATS,DOID:1\n")
    with pytest.raises(IngestError) as err:
        _load(tmp_path, n, e)
    assert "missing endpoint" in str(err.value) and SECRET not in str(err.value)
