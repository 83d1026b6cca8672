"""Tabular features of the next-condition model: only the past, the right columns, no free-text values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graph_engine.synthea import Pseudonymizer, read_synthea
from models.sequence.data import build_samples, build_vocab
from models.sequence.features import FeatureSpec, fit_feature_spec, tabular_features

pytestmark = pytest.mark.unit

ADDRESS = "12 Fake Street Springfield"


def _write(d: Path, name: str, header: str, rows: list[str]) -> None:
    (d / name).write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture()
def export(tmp_path: Path) -> Path:
    d = tmp_path / "csv"
    d.mkdir()
    _write(d, "patients.csv", "Id,BIRTHDATE,DEATHDATE,GENDER,FIRST,SSN",
           ["a,1960-03-01,,M,Jo,999-11-2222", "b,2000-05-05,,F,Al,999-33-4444"])
    _write(d, "conditions.csv", "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION",
           ["2015-01-10,,a,e1,15777000,Prediabetes (disorder)", "2019-03-01,2019-03-20,b,e2,444814009,Viral sinusitis (disorder)",
            "2021-02-01,,a,e3,59621000,Essential hypertension (disorder)"])
    _write(d, "medications.csv", "START,STOP,PATIENT,CODE,DESCRIPTION,REASONCODE",
           ["2015-02-01,,a,860975,24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet,15777000"])
    _write(d, "observations.csv", "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE",
           ["2018-01-01T10:00:00Z,a,e1,vital-signs,39156-5,Body mass index,31.5,kg/m2,numeric",
            "2019-06-01T10:00:00Z,a,e1,vital-signs,39156-5,Body mass index,33.0,kg/m2,numeric",
            "2020-06-01T10:00:00Z,a,e1,vital-signs,39156-5,Body mass index,40.0,kg/m2,numeric",  # after the cut
            "2019-06-01T10:00:00Z,b,e2,vital-signs,39156-5,Body mass index,22.0,kg/m2,numeric",
            "2019-06-01T10:00:00Z,a,e1,survey,72166-2,Tobacco smoking status,Former smoker (finding),,text",
            "2019-06-01T10:00:00Z,b,e2,survey,72166-2,Tobacco smoking status,Never smoked tobacco (finding),,text",
            f"2019-06-01T10:00:00Z,a,e1,survey,56799-0,Address,{ADDRESS},,text",
            f"2019-06-01T10:00:00Z,b,e2,survey,56799-0,Address,{ADDRESS},,text"])
    _write(d, "encounters.csv", "Id,START,STOP,PATIENT,ENCOUNTERCLASS,CODE,DESCRIPTION",
           ["e1,2019-06-01T10:00:00Z,,a,wellness,162673000,General examination of patient (procedure)",
            "e4,2019-09-01T10:00:00Z,,a,ambulatory,185345009,Encounter for symptom (procedure)",
            "e5,2019-10-01T10:00:00Z,,a,ambulatory,185345009,Encounter for symptom (procedure)",
            "e6,2017-10-01T10:00:00Z,,a,emergency,50849002,Emergency room admission (procedure)",
            "e2,2019-03-01T10:00:00Z,,b,ambulatory,185345009,Encounter for symptom (procedure)",
            "e3,2021-02-01T10:00:00Z,,a,wellness,162673000,General examination of patient (procedure)"])
    _write(d, "careplans.csv", "Id,START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION",
           ["c1,2015-01-10,,a,e1,698360004,Diabetes self management plan",
            "c2,2019-03-01,2019-03-20,b,e2,53950000,Respiratory therapy"])
    return d


def test_features_use_the_last_value_before_the_cut_and_only_the_past(export: Path) -> None:
    tables = read_synthea(export, Pseudonymizer(b"k" * 32))
    vocab = build_vocab(tables, 1)
    s = build_samples(tables, np.datetime64("2020-01-01"), vocab)
    spec = fit_feature_spec(tables, s, vocab, min_patients=0.0)
    X = tabular_features(tables, s, spec)
    col = {n: i for i, n in enumerate(spec.names)}
    a, b = s.pids.index(Pseudonymizer(b"k" * 32)("a")), s.pids.index(Pseudonymizer(b"k" * 32)("b"))
    assert X.shape == (2, len(spec.names))
    assert X[a, col["age"]] == 60 and X[b, col["age"]] == 20 and X[a, col["male"]] == 1 and X[b, col["male"]] == 0
    assert X[a, col["obs:39156-5"]] == pytest.approx(33.0)          # 2019 value, not the 2020 one
    assert X[b, col["obs:39156-5"]] == pytest.approx(22.0)
    assert X[a, col["obs_days:39156-5"]] == (np.datetime64("2020-01-01") - np.datetime64("2019-06-01")).astype(int)
    assert X[a, col["obs:72166-2=Former smoker (finding)"]] == 1
    assert X[a, col["obs:72166-2=Never smoked tobacco (finding)"]] == 0
    assert X[b, col["obs:72166-2=Never smoked tobacco (finding)"]] == 1
    # encounters in the last 365 days by class, days since the last one (NaN: never)
    assert X[a, col["enc_n:ambulatory"]] == 2 and X[a, col["enc_n:wellness"]] == 1
    assert X[a, col["enc_n:emergency"]] == 0 and X[a, col["enc_days:emergency"]] > 365
    assert X[a, col["enc_days:wellness"]] == (np.datetime64("2020-01-01") - np.datetime64("2019-06-01")).astype(int)
    assert np.isnan(X[b, col["enc_days:wellness"]]) and X[b, col["enc_n:wellness"]] == 0
    # care plans active at the cut; history tokens present
    assert X[a, col["careplan:698360004"]] == 1 and X[b, col["careplan:53950000"]] == 0
    assert X[a, col["code:C:15777000"]] == 1 and X[b, col["code:C:15777000"]] == 0
    assert "code:C:59621000" not in col                              # first seen after the cut
    # the spec survives a JSON round trip with the same columns
    again = FeatureSpec.from_json(spec.to_json())
    assert again.names == spec.names
    assert np.array_equal(tabular_features(tables, s, again), X, equal_nan=True)


def test_free_text_observation_values_are_never_read(export: Path) -> None:
    tables = read_synthea(export, Pseudonymizer(b"k" * 32))
    obs = tables.table("observations")
    values = obs["value"].tolist()
    assert ADDRESS not in values and not any(isinstance(v, str) and "Fake" in v for v in values)
    addr = obs[obs["code"] == "56799-0"]["value"]
    assert len(addr) == 2 and addr.isna().all()
    assert "Former smoker (finding)" in values and 33.0 in values


def test_features_of_several_cuts_follow_each_samples_own_cut(export: Path) -> None:
    from models.sequence.data import Samples

    tables = read_synthea(export, Pseudonymizer(b"k" * 32))
    vocab = build_vocab(tables, 1)
    s = Samples.concat([build_samples(tables, np.datetime64(c), vocab) for c in ("2019-01-01", "2021-01-01")])
    spec = fit_feature_spec(tables, s, vocab, min_patients=0.0)
    X = tabular_features(tables, s, spec)
    col = {n: i for i, n in enumerate(spec.names)}
    a = [i for i, p in enumerate(s.pids) if p == Pseudonymizer(b"k" * 32)("a")]
    assert [float(X[i, col["obs:39156-5"]]) for i in a] == [31.5, 40.0]
