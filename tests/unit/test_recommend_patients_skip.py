"""`medkg enrich recommend --patients`: a patient the model cannot serve is skipped and counted (issue 21 item 7)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from recommend.cypher import LIST_PATIENTS, READ_PATIENT
from recommend.toy import toy_graph
from tests.unit.test_recommend_writeback_cli import FakeGraph

pytestmark = pytest.mark.unit

PATIENTS = {
    "PAT:1": {"conditions": ["DOID:A0"], "current_drugs": []},
    "PAT:2": {"conditions": ["DOID:NOT_IN_MODEL"], "current_drugs": []},  # no condition the model knows
    "PAT:3": {"conditions": ["DOID:B0"], "current_drugs": []},
}


class PatientGraph(FakeGraph):
    def __init__(self, tables):
        super().__init__(tables)
        self.ids["Patient"] = set(PATIENTS)

    def read(self, cypher, params):
        if cypher == LIST_PATIENTS:
            return [{"id": i} for i in sorted(PATIENTS)]
        if cypher == READ_PATIENT:
            p = PATIENTS[params["id"]]
            return [{"id": params["id"], **p, "avoid_side_effects": [], "allergies": [], "synthetic": True}]
        return []


def test_unknown_condition_patient_is_skipped_not_fatal(tmp_path, monkeypatch):
    from jobs.commands import recommend as cmd

    monkeypatch.setenv("MEDKG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDKG_CONFIG", raising=False)
    g = PatientGraph(toy_graph())
    monkeypatch.setattr(cmd, "_open_client", lambda: g)
    root = click.Group("medkg")
    cmd.register(root)
    r = CliRunner()
    assert r.invoke(root, ["recommend", "fit", "--method", "popularity"]).exit_code == 0
    out = r.invoke(root, ["enrich", "recommend", "-k", "2", "--no-explain", "--patients"])
    assert out.exit_code == 0, out.output
    assert "read 3 = written 2 + skipped 1" in out.output
    assert "skipped patient PAT:2: none of the conditions" in out.output
    targets = {n["for"] for n in g.of_label("Recommendation").values() if n["for"].startswith("PAT:")}
    assert targets == {"PAT:1", "PAT:3"}
    (prun,) = [r for r in g.runs.values() if r["algorithm"].endswith(":patients")]
    assert prun["status"] == "succeeded" and prun["metrics"]["skipped"] == 1 and prun["metrics"]["written"] == 2
