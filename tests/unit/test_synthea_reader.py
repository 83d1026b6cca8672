"""Synthea reading without PHI, keyed pseudonyms, code linking (pure logic, no services)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from graph_engine.errors import ConfigError, IngestError
from graph_engine.settings import Settings
from ingest.synthea.mapping import Linker, ingredients, semantic_tag, strip_tag
from graph_engine.synthea import Pseudonymizer, load_key, read_synthea
from ingest.text.vocabulary import VocabEntry, Vocabulary

SAMPLE = Path(__file__).resolve().parents[2] / "ingest" / "data" / "synthea-sample"

PATIENTS = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,"
    "GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME\n"
    "p-1,1970-03-04,,999-11-2222,S9991,X123X,Mr.,Zebulon123,Q,Quuxington456,,,M,white,nonhispanic,M,"
    "Springfield MA US,42 Secret Lane,Boston,Massachusetts,Suffolk,25025,02110,42.1,-71.1,1.0,2.0,30000\n"
    "p-2,not-a-date,,999-33-4444,S9992,X456X,Ms.,Yolanda77,,Plughshire88,,,S,white,nonhispanic,F,"
    "Salem MA US,7 Hidden Road,Salem,Massachusetts,Essex,25009,01970,42.5,-70.9,1.0,2.0,40000\n"
    "p-3,1990-01-01,2020-05-05,999-55-6666,S9993,,Ms.,Xena9,,Frobnitz1,,,S,white,nonhispanic,F,"
    "Lynn MA US,9 Quiet Way,Lynn,Massachusetts,Essex,25009,01901,42.4,-70.9,1.0,2.0,50000\n"
)


def _export(tmp_path: Path) -> Path:
    d = tmp_path / "export"
    d.mkdir()
    (d / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    (d / "conditions.csv").write_text(
        "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION\n"
        "2010-01-01,,p-1,e1,SNOMED-CT,44054006,Diabetes mellitus type 2 (disorder)\n"
        "2011-01-01,2011-02-01,p-9,e2,SNOMED-CT,444814009,Viral sinusitis (disorder)\n"
        "bad,,p-1,e3,SNOMED-CT,444814009,Viral sinusitis (disorder)\n"
        "2012-01-01,,p-3,e4,SNOMED-CT,,Nothing\n"
        "1970-03-04,,p-1,e5,SNOMED-CT,123,Born-with condition (disorder)\n"
        "2020-05-05,,p-3,e6,SNOMED-CT,22298006,Myocardial infarction (disorder)\n", encoding="utf-8")
    (d / "medications.csv").write_text(
        "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION\n"
        "2010-01-02T10:00:00Z,,p-1,pay,e1,860975,24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet,"
        "1,1,1,1,44054006,Diabetes\n", encoding="utf-8")
    return d


def test_phi_columns_never_read_and_every_row_accounted(tmp_path):
    t = read_synthea(_export(tmp_path), Pseudonymizer(b"k" * 32))
    dump = repr(t.patients.to_dict()) + "".join(repr(df.to_dict()) for df in t.events.values())
    for secret in ("Zebulon123", "Quuxington456", "999-11-2222", "S9991", "X123X", "42 Secret Lane", "02110",
                   "1970-03-04", "2020-05-05", "p-1", "Springfield"):
        assert secret not in dump
    assert list(t.patients.columns) == ["pid", "birth_year", "death_year", "sex"]
    assert t.patients["birth_year"].tolist() == [1970, 1990]
    assert t.patients["death_year"].isna().tolist() == [True, False]
    for rep in t.reports.values():
        assert rep.read == rep.written + rep.rejected
    assert t.reports["patients.csv"].first_rejected == (3, "BIRTHDATE is not a YYYY-MM-DD date")
    c = t.reports["conditions.csv"]
    assert (c.read, c.written, c.rejected) == (6, 3, 3)
    starts = {str(x)[:10] for x in t.events["conditions"]["start"]}
    assert starts == {"2010-01-01", "1970-01-01", "2020-05-01"}  # birth and death days blurred
    assert c.first_rejected is not None and c.first_rejected[0] == 3  # the unknown patient p-9
    assert t.events["medications"]["reason_code"].tolist() == ["44054006"]


def test_missing_required_file_and_column_are_named(tmp_path):
    d = _export(tmp_path)
    (d / "medications.csv").unlink()
    with pytest.raises(IngestError, match=r"medications\.csv.*required Synthea file"):
        read_synthea(d, Pseudonymizer(b"k" * 32))
    (d / "medications.csv").write_text("START,PATIENT\n2010-01-01,p-1\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"medications\.csv, line 1: missing column\(s\) \['CODE'\]"):
        read_synthea(d, Pseudonymizer(b"k" * 32))


def test_pseudonyms_are_keyed_stable_and_unlinkable(tmp_path):
    a, b = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    assert a("p-1") == a("p-1") != b("p-1")
    assert a("p-1") != a("p-2") and "p-1" not in a("p-1") and a("p-1").startswith("SYN:")
    assert "a" * 32 not in repr(a)
    env = {"MEDKG_HOME": str(tmp_path / "h")}
    s = Settings.load(env=env)
    k1 = load_key(s, env=env)
    assert stat.S_IMODE((tmp_path / "h" / "patient-key").stat().st_mode) == 0o600
    assert load_key(s, env=env) == k1
    os.chmod(tmp_path / "h" / "patient-key", 0o644)
    with pytest.raises(ConfigError, match="0600"):
        load_key(s, env=env)
    assert load_key(s, env={**env, "MEDKG_PATIENT_KEY": "x" * 20}) == b"x" * 20
    with pytest.raises(ConfigError, match="does not exist"):
        load_key(Settings.load(env={"MEDKG_HOME": str(tmp_path / "other")}),
                 env={"MEDKG_HOME": str(tmp_path / "other")}, create=False)


@pytest.mark.parametrize("desc, expected", [
    ("Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet", ["amoxicillin", "clavulanate"]),
    ("24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet", ["metformin hydrochloride"]),
    ("NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector", ["epinephrine"]),
    ("Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet [Percocet]", ["acetaminophen", "oxycodone hydrochloride"]),
    ("72 HR Fentanyl 0.025 MG/HR Transdermal System", ["fentanyl"]),
    ("Seasonique 91 Day Pack", ["seasonique"]),
])
def test_rxnorm_ingredients(desc, expected):
    assert ingredients(desc) == expected


def test_linker_uses_xrefs_names_and_salts_and_never_its_own_nodes():
    vocab_rows = [
        {"id": "DOID:9352", "label": "Disease", "name": "type 2 diabetes mellitus", "synonyms": [], "xrefs": []},
        {"id": "DOID:10763", "label": "Disease", "name": "hypertension", "synonyms": [], "xrefs": ["SNOMEDCT:59621000"]},
        {"id": "DRUGBANK:DB00331", "label": "Drug", "name": "Metformin", "synonyms": [], "xrefs": []},
        {"id": "SNOMEDCT:444814009", "label": "Disease", "name": "Viral sinusitis", "synonyms": [], "xrefs": []},
    ]
    lk = Linker.from_nodes(vocab_rows)
    assert lk.condition("44054006", "Diabetes mellitus type 2 (disorder)") == "DOID:9352"
    assert lk.condition("59621000", "Essential hypertension (disorder)") == "DOID:10763"
    assert lk.condition("444814009", "Viral sinusitis (disorder)") is None  # own SNOMEDCT: node is not a target
    meds = lk.medication("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet")
    assert meds == [("DRUGBANK:DB00331", "metformin hydrochloride", True)]
    two = lk.medication("1", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet")
    assert [m[0] for m in two] == ["RXNORM-IN:amoxicillin", "RXNORM-IN:clavulanate"]
    assert semantic_tag("Viral sinusitis (disorder)") == "disorder" and strip_tag("Cough (finding)") == "Cough"
    assert isinstance(Vocabulary([VocabEntry("X:1", "Disease", "abc")]).find("abc"), VocabEntry)


def test_shipped_sample_is_phi_free_and_readable():
    header = (SAMPLE / "patients.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "Id,BIRTH_YEAR,DEATH_YEAR,GENDER"
    t = read_synthea(SAMPLE, Pseudonymizer(b"k" * 32))
    assert len(t.patients) >= 20 and t.reports["patients.csv"].rejected == 0
    assert np.all(t.patients["birth_year"].between(1900, 2030))
    for f in SAMPLE.glob("*.csv"):
        first = f.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert not {"SSN", "DRIVERS", "PASSPORT", "FIRST", "LAST", "ADDRESS", "BIRTHDATE", "LAT", "LON"} & set(first)
