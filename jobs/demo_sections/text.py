"""Demo section: extract mentions and relations from shipped abstracts into the graph, with evidence."""

from __future__ import annotations

import click

from graph_engine.client import GraphClient


def demo_section(g: GraphClient) -> None:
    from ingest.text.cypher import SHOW_EVIDENCE_EDGES
    from ingest.text.pipeline import extract_documents, load_pipeline, sample_abstracts
    from ingest.text.readers import read_documents
    from ingest.text.writer import write_documents
    from jobs.output import print_rows

    path = sample_abstracts()
    click.echo(f"\n== Text extraction: {path.name} (5 abstracts written for medkg) -> Articles, MENTIONS, "
               "evidence-backed relations")
    nlp = load_pipeline()
    summary = write_documents(g, extract_documents(nlp, read_documents(path, "jsonl")))
    click.echo(summary.line())
    click.echo(f"\n{SHOW_EVIDENCE_EDGES.strip()}")
    print_rows(g.query(SHOW_EVIDENCE_EDGES, {"limit": 6}), as_json=False)
