"""``medkg demo`` section: structures, toxicity predictions as nodes, and a predicted-risk patient flag."""

from __future__ import annotations

from typing import Any

import click

DRUG = "DRUGBANK:DB00502"  # haloperidol (label QT warnings); the synthetic patient takes it
SHOW = (
    "MATCH (p:Prediction {kind: 'toxicity'})-[:FOR]->(d:Drug {id: $id})\n"
    "RETURN d.name AS drug, p.task AS task, round(p.probability, 3) AS probability, p.out_of_domain AS out_of_domain,\n"
    "       p.model + ' ' + p.model_version AS model ORDER BY task"
)


def demo_section(client: Any, k: int = 10) -> None:
    from jobs.cli import print_rows

    try:
        from graph_engine.chem import structure
        from ingest.structures import attach_drugbank_structures
        from models.knowledge import load_knowledge
        from models.prediction_writeback import write_toxicity
        from models.toxicity import load_toxicity_model, predict_structures
    except ImportError as e:  # admet-ai / rdkit missing from this build
        click.echo(f"\n== Toxicity (skipped: {e})")
        return
    click.echo("\n== Drugs as molecules: DrugBank structures, admet-ai toxicity as (:Prediction) nodes")
    s = attach_drugbank_structures(client)
    click.echo(f"structures attached to {s.written} Drug nodes (admet-ai drugbank_approved.csv)")
    rows = client.read("MATCH (d:Drug) WHERE d.smiles IS NOT NULL RETURN d.id AS id, d.smiles AS smiles ORDER BY d.id")
    model = load_toxicity_model()
    preds = predict_structures(model, [structure(r["id"], r["smiles"]) for r in rows],
                               knowledge=load_knowledge("graph", client))
    run_id, n = write_toxicity(client, preds, model.name, model.model_version)
    click.echo(f"run {run_id}: {n} toxicity predictions for {len(preds)} drugs "
               f"({sum(p.out_of_domain for p in preds)} outside the DrugBank-approved domain)\n{SHOW}")
    print_rows(client.query(SHOW, {"id": DRUG}), as_json=False)
    _patient_flag(client, k)


def _patient_flag(client: Any, k: int) -> None:
    from recommend import api, get_recommender
    from recommend.patients import Patient, PredictedRisks, SafetyIndex, recommend_for_patient

    tables = api.export_for_recommend(client)
    model = get_recommender("content", seed=0).fit(tables)
    safety = SafetyIndex.from_tables(tables).with_predicted_risks(PredictedRisks.from_graph(client))
    for disease in map(str, model.target_ids):
        patient = Patient("SYNTH:PQT1", conditions=[disease], current_drugs=[DRUG], synthetic=True)
        res = recommend_for_patient(model, patient, safety, k=k, on_conflict="flag")
        if any(it.predicted_risks for it in res.items):
            break
    else:
        click.echo("(no recommended drug has a predicted risk in this graph)")
        return
    click.echo(f"\nSYNTHETIC patient {patient.id} (not a real person): condition {disease}, takes {DRUG} "
               f"(haloperidol); predicted risks are flagged, never removed:")
    for it in res.items:
        flag = f"  FLAGGED {', '.join(it.flags)}" if it.flags else ""
        click.echo(f"  {it.rank}. {it.drug}  score {it.score:.3f}{flag}")
