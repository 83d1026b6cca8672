"""Demo section: diagnose shipped clinical notes, write Diagnosis nodes, and show them next to
the recommended drugs of the suggested diseases in one Cypher query."""

from __future__ import annotations

import click

from graph_engine.client import GraphClient

JOINED_QUERY = (
    "MATCH (c:Case)<-[:OF]-(dx:Diagnosis)-[:SUGGESTS]->(d:Disease)\n"
    "WHERE dx.run_id = $run\n"
    "OPTIONAL MATCH (d)<-[:FOR]-(r:Recommendation)-[:RECOMMENDS]->(drug:Drug)\n"
    "WITH c, dx, d, r, drug ORDER BY r.rank\n"
    "WITH c, dx, d, [x IN collect(drug.name) WHERE x IS NOT NULL][..3] AS recommended\n"
    "WHERE size(recommended) > 0\n"
    "RETURN c.id AS case, d.name AS disease, round(dx.probability, 3) AS probability, recommended\n"
    "ORDER BY probability DESC, case LIMIT 8"
)


def demo_section(g: GraphClient) -> None:
    from jobs.output import print_rows
    from models.api import load_model, predict_file
    from models.artifacts import sample_data_path
    from models.writeback import label_disease_records, write_diagnoses
    from recommend import api, get_recommender
    from recommend.writeback import run_writeback

    click.echo("\n== Diagnosis (research use only, not a medical device): shipped text model on 20 sample notes")
    model = load_model(kind="text")
    report = predict_file(model, sample_data_path("text"))
    labels = label_disease_records(model)  # the diseases its labels name: add those the graph lacks
    absent = g.missing_ids("Disease", [r.id for r in labels])
    g.upsert_nodes([r for r in labels if r.id in absent])
    summary = write_diagnoses(g, model, report, top_k=1)
    click.echo(f"read {report.read} notes = predicted {len(report.predictions)} + skipped {len(report.skipped)}; "
               f"wrote Diagnosis nodes under run {summary.run_id}")
    diseases = [r["id"] for r in g.read(
        "MATCH (dx:Diagnosis {run_id: $run})-[:SUGGESTS]->(d:Disease)<-[:TREATS|PALLIATES]-(:Drug) "
        "RETURN DISTINCT d.id AS id ORDER BY id", {"run": summary.run_id})]
    if diseases:
        tables = api.export_for_recommend(g)
        rec = get_recommender("metapath", seed=0).fit(tables)
        known = set(map(str, rec.target_ids))
        targets = [d for d in diseases if d in known]
        run_id, created = run_writeback(g, rec, targets, k=5)
        click.echo(f"wrote {created} Recommendation nodes for the {len(targets)} suggested diseases (run {run_id})")
    click.echo(f"\n{JOINED_QUERY}")
    print_rows(g.query(JOINED_QUERY, {"run": summary.run_id}), as_json=False)
