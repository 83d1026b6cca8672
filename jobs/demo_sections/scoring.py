"""Demo section: PageRank and a personalized PageRank from one disease."""

from __future__ import annotations

import click

from graph_engine.client import GraphClient
from graph_engine.enrich import Projection, pagerank_job, ppr_job

DISEASE = "DOID:2377"  # multiple sclerosis

TOP_QUERY = (
    "MATCH (n:{label}) WHERE n.pagerank IS NOT NULL\n"
    "RETURN n.name AS name, n.pagerank AS pagerank ORDER BY pagerank DESC LIMIT 5"
)
PPR_QUERY = (
    "MATCH (d:Disease {id: $id})\n"
    "UNWIND range(0, size(d.ppr_ids) - 1) AS i\n"
    "MATCH (n {id: d.ppr_ids[i]})\n"
    "RETURN labels(n)[0] AS label, n.name AS name, d.ppr_scores[i] AS score ORDER BY score DESC LIMIT 10"
)


def demo_section(g: GraphClient) -> None:
    from jobs.output import print_rows

    click.echo("\n== PageRank over the whole demo graph (undirected), written back as `pagerank`")
    res = pagerank_job(g, Projection())
    click.echo(f"run {res.run_id}: {res.metrics['iterations']} iterations, converged={res.metrics['converged']}")
    for label in ("Gene", "Drug"):
        query = TOP_QUERY.replace("{label}", label)  # label from a fixed list, not from data
        click.echo(f"\n{query}")
        print_rows(g.query(query), as_json=False)
    click.echo(f"\n== Personalized PageRank from multiple sclerosis ({DISEASE}): nearest drugs and genes")
    res = ppr_job(g, seeds=[DISEASE], k=10, target_labels=("Drug", "Gene"))
    click.echo(f"run {res.run_id}\n{PPR_QUERY}")
    print_rows(g.query(PPR_QUERY, {"id": DISEASE}), as_json=False)
