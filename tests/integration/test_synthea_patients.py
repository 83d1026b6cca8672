"""Synthea for real (Maven Central on first use) -> import into a real Neo4j: idempotence, PHI absence, linking."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pytest

from graph_engine.settings import Settings
from ingest.curated import load_graph
from ingest.demo import demo_files
from ingest.synthea.graph import import_synthea
from ingest.synthea.provision import Synthea
from tests.conftest import unavailable

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="session")
def cohort(tmp_path_factory) -> Path:
    """20 living patients from the real Synthea 3.3.0 (downloaded into MEDKG_HOME on first use)."""
    from graph_engine.errors import MedkgError

    out = tmp_path_factory.mktemp("synthea") / "cohort"
    try:
        Synthea(Settings.load()).generate(20, seed=7, output=out, state="Vermont")
    except MedkgError as e:
        unavailable(f"Synthea could not run: {e}")
    return out


@pytest.fixture()
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.delenv("MEDKG_PATIENT_KEY", raising=False)
    monkeypatch.delenv("MEDKG_PATIENT_KEY_FILE", raising=False)
    return Settings.load(env={**os.environ, "MEDKG_HOME": str(tmp_path / "home")})


def _snapshot(g) -> tuple:
    nodes = g.read("MATCH (n) RETURN labels(n)[0] AS l, properties(n) AS p ORDER BY l, n.id")
    rels = g.read("MATCH (a)-[r]->(b) RETURN a.id AS a, type(r) AS t, b.id AS b, properties(r) AS p ORDER BY a, t, b")
    return repr(nodes), repr(rels)


def test_import_is_idempotent_and_accounts_for_every_row(graph, cohort, settings):
    s1 = import_synthea(graph, cohort, settings=settings, progress=False)
    for rep in s1.files.values():
        assert rep.read == rep.written + rep.rejected
    with open(cohort / "patients.csv", encoding="utf-8") as fh:
        n_src = sum(1 for _ in csv.DictReader(fh))
    assert graph.read("MATCH (p:Patient {synthetic: true}) RETURN count(p) AS n")[0]["n"] == n_src
    first = _snapshot(graph)
    s2 = import_synthea(graph, cohort, settings=settings, progress=False)
    assert _snapshot(graph) == first
    assert s2.relationships == s1.relationships
    # the key file was generated with mode 0600
    key = settings.home / "patient-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_no_phi_reaches_the_graph(graph, cohort, settings):
    import_synthea(graph, cohort, settings=settings, progress=False)
    phi: set[str] = set()
    with open(cohort / "patients.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for col in ("Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "FIRST", "MIDDLE", "LAST",
                        "MAIDEN", "ADDRESS", "CITY", "ZIP", "BIRTHPLACE", "LAT", "LON"):
                v = (row.get(col) or "").strip()
                if len(v) >= 4:
                    phi.add(v)
    assert len(phi) > 100
    values: list[str] = []
    for r in graph.read("MATCH (n) RETURN properties(n) AS p UNION ALL MATCH ()-[r]->() RETURN properties(r) AS p"):
        for v in r["p"].values():
            values += [str(x) for x in v] if isinstance(v, list) else [str(v)]
    blob = "\n".join(values)
    # Clinical event dates (START/STOP) are stored on purpose (HAS_CONDITION {start, stop}, ...): a birth or
    # death date of one patient that is also the day another patient's condition started is no leak, so
    # dates found in the graph count only when no event record carries them.
    events: set[str] = set()
    for name in ("conditions.csv", "medications.csv", "allergies.csv"):
        with open(cohort / name, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                events.update((row.get(c) or "")[:10] for c in ("START", "STOP"))
    leaked = sorted(v for v in phi if v in blob and v not in events)
    assert leaked == []
    rows = graph.read("MATCH (p:Patient) RETURN p.id AS id, keys(p) AS k, p.birth_year AS y, p.sex AS s")
    assert all(r["id"].startswith("SYN:") for r in rows)
    assert all(set(r["k"]) <= {"id", "synthetic", "birth_year", "sex", "death_year", "sources"} for r in rows)
    assert all(1900 < r["y"] < 2030 and r["s"] in ("M", "F") for r in rows)


def test_links_to_graph_diseases_and_drug_ingredients(graph, cohort, settings):
    nodes, edges = demo_files()
    load_graph(graph, "hetionet", nodes, edges, progress=False)
    summary = import_synthea(graph, cohort, settings=settings, progress=False)
    assert any("ingredients" in line for line in summary.coverage)
    linked = graph.read(
        "MATCH (:Patient)-[t:TAKES]->(d:Drug) WHERE d.id STARTS WITH 'DRUGBANK:' "
        "RETURN count(t) AS n, all(x IN collect(d.xrefs) WHERE any(y IN x WHERE y STARTS WITH 'RXNORM:')) AS ok")[0]
    assert linked["n"] > 0 and linked["ok"]
    # every TAKES edge points at a Drug, every HAS_CONDITION at a Disease with a SNOMED CT code on the edge
    bad = graph.read("MATCH (:Patient)-[r:HAS_CONDITION]->(d) WHERE NOT d:Disease OR r.code IS NULL RETURN count(r) AS n")
    assert bad[0]["n"] == 0


def test_bad_input_names_the_file(graph, tmp_path, settings):
    from graph_engine.errors import IngestError

    d = tmp_path / "bad"
    d.mkdir()
    (d / "patients.csv").write_text("Id,BIRTHDATE,GENDER\nx1,2001-01-01,F\n", encoding="utf-8")
    (d / "conditions.csv").write_text("START,PATIENT,CODE,DESCRIPTION\n2010-01-01,x1,123,A (disorder)\n", encoding="utf-8")
    with pytest.raises(IngestError, match="medications.csv"):
        import_synthea(graph, d, settings=settings, progress=False)
    (d / "medications.csv").write_text("START,PATIENT,DESCRIPTION\n2010-01-01,x1,A\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"medications.csv, line 1: missing column\(s\) \['CODE'\]"):
        import_synthea(graph, d, settings=settings, progress=False)
    assert graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0
