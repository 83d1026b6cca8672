"""A small synthetic graph whose answers are known, for contract tests and docs.

Two therapeutic "blocks" (A and B). Block-A diseases ``DOID:A0..A3`` are treated
by block-A drugs ``DRUGBANK:DBA00..DBA07``; they share genes, symptoms, anatomy,
side effects and pharmacologic classes with each other and nothing with
block B (mirror image). Planted answers:

- ``DOID:A0`` is treated by every block-A drug except ``DBA07``, which the
  other block-A diseases use: CF must put ``DBA07`` first among new drugs.
- ``DRUGBANK:DBP01`` treats nothing but binds ``NCBIGene:1`` and ``NCBIGene:2``,
  both associated with ``DOID:A0``: the path
  ``Drug DBP01 -BINDS-> Gene 1 <-ASSOCIATES- Disease A0`` must explain it.
- ``DOID:A9`` looks like a block-A disease but has no known treatment
  (cold start): content / graph methods must rank block-A drugs above block B.

Everything here is synthetic; ids only mimic the real vocabularies' shapes.
"""

from __future__ import annotations

import numpy as np

from graph_engine.export import GraphTables, tables_from_edges


def toy_graph(with_cold: bool = True, seed: int = 0) -> GraphTables:
    """The two-block graph described in the module docstring (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    blocks = {"A": 0, "B": 1}
    diseases, drugs, genes = [], [], [f"NCBIGene:{i}" for i in range(1, 25)]
    symptoms = [f"MESH:D{i:06d}" for i in range(1, 9)]
    anatomy = [f"UBERON:{i:07d}" for i in range(1, 5)]
    ses = [f"UMLS:C{i:07d}" for i in range(1, 9)]
    classes = [f"NDFRT:N{i:010d}" for i in range(1, 5)]
    edges: dict[tuple[str, str, str], list[tuple[str, str]]] = {k: [] for k in (
        ("Drug", "TREATS", "Disease"), ("Drug", "PALLIATES", "Disease"), ("Drug", "BINDS", "Gene"),
        ("Disease", "ASSOCIATES", "Gene"), ("Disease", "PRESENTS", "Symptom"), ("Disease", "LOCALIZES", "Anatomy"),
        ("Drug", "CAUSES", "SideEffect"), ("PharmacologicClass", "INCLUDES", "Drug"), ("Drug", "RESEMBLES", "Drug"),
        ("Disease", "RESEMBLES", "Disease"), ("Gene", "INTERACTS_WITH", "Gene"), ("Anatomy", "EXPRESSES", "Gene"))}
    for b, k in blocks.items():
        gb = genes[12 * k:12 * k + 12]
        sb, ab, seb, cb = symptoms[4 * k:4 * k + 4], anatomy[2 * k:2 * k + 2], ses[4 * k:4 * k + 4], classes[2 * k:2 * k + 2]
        bd = [f"DOID:{b}{i}" for i in range(4)]
        bc = [f"DRUGBANK:DB{b}{i:02d}" for i in range(8)]
        diseases += bd
        drugs += bc
        for i, d in enumerate(bd):
            edges[("Disease", "ASSOCIATES", "Gene")] += [(d, g) for g in rng.choice(gb, 6, replace=False)]
            edges[("Disease", "PRESENTS", "Symptom")] += [(d, s) for s in rng.choice(sb, 2, replace=False)]
            edges[("Disease", "LOCALIZES", "Anatomy")] += [(d, ab[i % 2])]
            if i:
                edges[("Disease", "RESEMBLES", "Disease")].append((d, bd[0]))
            treated = bc[:7] if i == 0 else [c for j, c in enumerate(bc) if (i + j) % 2 == 0 or j == 7]
            for j, c in enumerate(treated):
                rel = "PALLIATES" if (i + j) % 5 == 4 else "TREATS"
                edges[("Drug", rel, "Disease")].append((c, d))
        for j, c in enumerate(bc):
            edges[("Drug", "BINDS", "Gene")] += [(c, g) for g in rng.choice(gb, 3, replace=False)]
            edges[("Drug", "CAUSES", "SideEffect")] += [(c, s) for s in rng.choice(seb, 2, replace=False)]
            edges[("PharmacologicClass", "INCLUDES", "Drug")].append((cb[j % 2], c))
            if j:
                edges[("Drug", "RESEMBLES", "Drug")].append((c, bc[j - 1]))
        for g1, g2 in zip(gb[:-1], gb[1:]):
            edges[("Gene", "INTERACTS_WITH", "Gene")].append((g1, g2))
        edges[("Anatomy", "EXPRESSES", "Gene")] += [(ab[i % 2], g) for i, g in enumerate(gb)]
    # the planted drug: binds two genes of DOID:A0, treats nothing
    drugs.append("DRUGBANK:DBP01")
    a0_genes = [g for d, g in edges[("Disease", "ASSOCIATES", "Gene")] if d == "DOID:A0"][:2]
    edges[("Drug", "BINDS", "Gene")] += [("DRUGBANK:DBP01", g) for g in a0_genes]
    if with_cold:
        diseases.append("DOID:A9")
        edges[("Disease", "ASSOCIATES", "Gene")] += [("DOID:A9", g) for g in genes[:12:2]]
        edges[("Disease", "PRESENTS", "Symptom")] += [("DOID:A9", s) for s in symptoms[:3]]
        edges[("Disease", "LOCALIZES", "Anatomy")].append(("DOID:A9", anatomy[0]))
        edges[("Disease", "RESEMBLES", "Disease")].append(("DOID:A9", "DOID:A1"))
    nodes = {"Disease": diseases, "Drug": drugs, "Gene": genes, "Symptom": symptoms, "Anatomy": anatomy,
             "SideEffect": ses, "PharmacologicClass": classes}
    return tables_from_edges(nodes, {k: v for k, v in edges.items() if v})


def toy_embeddings(tables: GraphTables, dim: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """Block-structured embeddings for the toy graph (block A near e_0, block B near e_1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for label in ("Disease", "Drug"):
        ids = [str(i) for i in tables.nodes[label]]
        e = rng.normal(0, 0.1, (len(ids), dim)).astype(np.float32)
        for k, i in enumerate(ids):
            local = i.split(":")[1]
            block = 0 if local.startswith(("A", "DBA", "DBP")) else 1
            e[k, block] += 1.0
        out[label] = e
    return out


def block_of(node_id: str) -> str:
    """``"A"``, ``"B"`` or ``"P"`` (planted) for toy disease / drug ids."""
    local = node_id.split(":")[1]
    return local[2] if local.startswith("DB") else local[0]
