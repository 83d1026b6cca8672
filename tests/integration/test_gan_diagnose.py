"""``medkg enrich diagnose`` on images from ``medkg models generate`` marks the Cases
``synthetic: true`` (real Neo4j); Cases of real images stay unmarked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.neo4j

SAMPLES = Path(__file__).resolve().parents[2] / "models" / "data"


def test_diagnose_generated_images_marks_cases_synthetic(graph: Any, neo4j_env: dict[str, str], tmp_path: Path) -> None:
    from jobs.cli import main
    from models import load_model
    from models.writeback import label_disease_records

    graph.upsert_nodes(label_disease_records(load_model(kind="image")))  # diagnoses refuse absent diseases
    gen = tmp_path / "gen.npz"
    res = CliRunner().invoke(main, ["models", "generate", "--kind", "image", "--n", "12", "--seed", "5",
                                    "--output", str(gen)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["enrich", "diagnose", "--kind", "image", "--input", str(gen), "--top-k", "1"],
                             env=neo4j_env)
    assert res.exit_code == 0, res.output
    assert "cases 12, diagnoses 12" in res.output
    res = CliRunner().invoke(main, ["enrich", "diagnose", "--kind", "image", "--input",
                                    str(SAMPLES / "sample_images.npz"), "--top-k", "1"], env=neo4j_env)
    assert res.exit_code == 0, res.output
    rows = graph.read("MATCH (c:Case) RETURN c.id AS id, c.synthetic AS s ORDER BY id")
    synthetic = {r["id"] for r in rows if r["s"] is True}
    assert synthetic == {f"synthetic-5-{i}" for i in range(12)}
    assert len(rows) == 12 + 20 and all(r["s"] is None for r in rows if r["id"] not in synthetic)
    runs = graph.read("MATCH (r:Run {kind: 'diagnose'}) RETURN r.params AS p")
    assert sorted(json.loads(r["p"])["synthetic"] for r in runs) == [False, True]
