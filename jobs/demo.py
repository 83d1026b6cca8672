"""``medkg demo``: a tour of the engine on the shipped demo graph.

Each capability adds a section through :data:`SECTIONS` (functions taking the
client); sections run in order after the graph is loaded.
"""

from __future__ import annotations

import importlib
from typing import Callable

import click

from graph_engine.client import GraphClient
from graph_engine.settings import Settings

EXAMPLE_QUERIES: list[tuple[str, str, dict]] = [
    (
        "Drugs that treat multiple sclerosis, with how many genes each binds",
        "MATCH (c:Drug)-[:TREATS]->(d:Disease {id: $disease})\n"
        "OPTIONAL MATCH (c)-[:BINDS]->(g:Gene)\n"
        "RETURN c.id AS drug, c.name AS name, count(g) AS genes_bound ORDER BY genes_bound DESC, name LIMIT 8",
        {"disease": "DOID:2377"},
    ),
    (
        "Repurposing paths: a drug binds a gene associated with Alzheimer's disease",
        "MATCH path = (c:Drug)-[:BINDS]->(g:Gene)<-[:ASSOCIATES]-(d:Disease {id: $disease})\n"
        "WHERE NOT (c)-[:TREATS]->(d)\n"
        "RETURN c.name AS drug, g.name AS gene, d.name AS disease ORDER BY gene, drug LIMIT 8",
        {"disease": "DOID:10652"},
    ),
    (
        "Diseases sharing the most associated genes with breast cancer",
        "MATCH (a:Disease {id: $disease})-[:ASSOCIATES]->(g:Gene)<-[:ASSOCIATES]-(other:Disease)\n"
        "RETURN other.name AS disease, count(g) AS shared_genes, collect(g.name)[..4] AS examples\n"
        "ORDER BY shared_genes DESC, disease LIMIT 5",
        {"disease": "DOID:1612"},
    ),
]

# modules that add demo sections: each exposes ``demo_section(client) -> None``
SECTIONS: tuple[str, ...] = (
    "jobs.demo_sections.text",
    "jobs.demo_sections.scoring",
    "jobs.demo_sections.recommend",
    "jobs.demo_sections.diagnose",
    "jobs.demo_sections.toxicity",
    "jobs.demo_sections.patients",
)


def run_demo(progress: bool = True, settings: Settings | None = None) -> None:
    """Start/connect Neo4j, load the demo graph, print what loaded and example queries."""
    from ingest.curated import load_graph
    from ingest.demo import demo_files
    from jobs.output import print_rows
    from jobs.context import open_client

    settings = settings or Settings.load()
    if not settings.uri:
        click.echo("No NEO4J_URI set: using the managed local Neo4j (first start downloads it from Maven Central).")
    with open_client(settings) as g:
        nodes, edges = demo_files()
        click.echo(f"\n== Loading the demo graph (Hetionet v1.0 subset, CC0) from {nodes.parent}")
        summary = load_graph(g, "hetionet", nodes, edges, progress=progress)
        click.echo(summary.render())
        counts = g.counts()
        click.echo("\nIn the graph now: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for title, query, params in EXAMPLE_QUERIES:
            click.echo(f"\n== {title}\n{query}")
            print_rows(g.query(query, params), as_json=False)
        for name in SECTIONS:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as e:
                if e.name != name:
                    raise
                continue  # capability not installed in this build
            section: Callable[[GraphClient], None] = module.demo_section
            section(g)
    click.echo("\nDone. Explore further with `medkg query \"MATCH (d:Disease) RETURN d.name LIMIT 5\"`"
               " or in Neo4j Browser (`medkg neo4j status` shows the HTTP address).")
