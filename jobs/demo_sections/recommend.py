"""``medkg demo`` section: drug recommendations with explanations, for a disease and a synthetic patient."""

from __future__ import annotations

from typing import Any

import click

DEMO_DISEASES = ("DOID:1612", "DOID:10652", "DOID:2377")  # breast cancer, Alzheimer's, multiple sclerosis


def demo_section(client: Any, method: str = "metapath", k: int = 5) -> None:
    """Fit ``method`` on the loaded graph, then show explained recommendations."""
    from recommend import api, get_recommender
    from recommend.patients import SafetyIndex, recommend_for_patient, synthetic_cohort

    click.echo(f"\n== Recommendations ({method}: Rephetio-style metapaths; `medkg recommend fit` for the hybrid)")
    tables = api.export_for_recommend(client)
    if len(tables.nodes.get("Disease", ())) == 0 or len(tables.nodes.get("Drug", ())) == 0:
        click.echo("(no Disease/Drug nodes loaded: skipped)")
        return
    model = get_recommender(method, seed=0).fit(tables)
    known = set(map(str, model.target_ids))
    disease = next((d for d in DEMO_DISEASES if d in known), str(model.target_ids[0]))
    ids, scores = model.recommend([disease], k=k, exclude_known=True)
    click.echo(f"New candidate drugs for {disease} (known treatments left out):")
    for rank, (drug, s) in enumerate(zip(ids[0], scores[0]), start=1):
        click.echo(f"  {rank}. {drug}  score {s:.3f}")
        for p in model.explain(disease, drug, top=2).paths:
            click.echo(f"       {p.text()}")
    patient = synthetic_cohort(tables, n=1, seed=0)[0]
    click.echo(f"\nSYNTHETIC patient {patient.id} (generated, not a real person): conditions {patient.conditions}, "
               f"takes {patient.current_drugs}, avoids side effects {patient.avoid_side_effects}")
    # the index of `medkg recommend fit`: curated interactions, text-mined ones above the documented confidence
    res = recommend_for_patient(model, patient, SafetyIndex.from_graph(client), k=k, on_conflict="flag")
    from jobs.commands.recommend import evidence_lines

    for it in res.items:
        flag = f"  FLAGGED {', '.join(it.flags)}" if it.flags else ""
        click.echo(f"  {it.rank}. {it.drug}  score {it.score:.3f}{flag}")
        for line in evidence_lines(it.flag_evidence):
            click.echo(f"       {line}")
