"""Views of an exported graph that every recommender shares.

:class:`IndicationData` turns :class:`graph_engine.export.GraphTables` into the
matrices the recommenders work on: the disease x drug indication matrix (union
of ``TREATS`` and ``PALLIATES``), the optional patient x drug matrix
(``TAKES``), and typed adjacency between any two labels. Everything is pure
NumPy / SciPy so it runs on an export from Neo4j or on tables read from files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import scipy.sparse as sp

from graph_engine.errors import RecommendError
from graph_engine.export import GraphTables

DISEASE = "Disease"
DRUG = "Drug"
PATIENT = "Patient"
INDICATION_TYPES: tuple[str, ...] = ("TREATS", "PALLIATES")

#: Labels and relationship types the recommenders read (what to ask ``client.export`` for).
EXPORT_LABELS: tuple[str, ...] = (
    "Disease", "Drug", "Gene", "Anatomy", "Symptom", "SideEffect", "PharmacologicClass", "Patient",
)
EXPORT_REL_TYPES: tuple[str, ...] = (
    "TREATS", "PALLIATES", "BINDS", "ASSOCIATES", "RESEMBLES", "CAUSES", "INCLUDES", "PRESENTS",
    "LOCALIZES", "EXPRESSES", "UPREGULATES", "DOWNREGULATES", "INTERACTS_WITH",
    "HAS_CONDITION", "TAKES", "AVOIDS", "ALLERGIC_TO",
)


def adjacency(tables: GraphTables, src: str, rel: str, dst: str) -> sp.csr_matrix:
    """Binary ``(N_src, N_dst)`` adjacency for ``rel`` between two labels, whatever the stored direction.

    Edges stored as ``(src, rel, dst)`` and as ``(dst, rel, src)`` are both used, so
    ``adjacency(t, "Gene", "ASSOCIATES", "Disease")`` is the transpose of the
    stored ``(Disease, ASSOCIATES, Gene)`` list. For a relation within one label
    (``RESEMBLES``, ``INTERACTS_WITH``) the result is symmetric. Missing labels or
    relations give an all-zero matrix of the right shape.

    Shapes:
        return: ``(N_src, N_dst)`` CSR float32 with entries in {0, 1}.
    """
    n_s = len(tables.nodes.get(src, ()))
    n_d = len(tables.nodes.get(dst, ()))
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    fwd = tables.edges.get((src, rel, dst))
    if fwd is not None and len(fwd):
        rows.append(fwd.src)
        cols.append(fwd.dst)
    rev = tables.edges.get((dst, rel, src))
    if rev is not None and len(rev) and (src != dst or fwd is None):
        rows.append(rev.dst)
        cols.append(rev.src)
    if src == dst and fwd is not None and len(fwd):
        rows.append(fwd.dst)
        cols.append(fwd.src)
    if not rows:
        return sp.csr_matrix((n_s, n_d), dtype=np.float32)
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    m = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n_s, n_d))
    m.sum_duplicates()
    m.data[:] = 1.0
    if src == dst:
        m.setdiag(0)
        m.eliminate_zeros()
    return m


def degree_normalize(a: sp.csr_matrix, w: float = 0.4) -> sp.csr_matrix:
    """``D_row^-w A D_col^-w``: the degree-weighted step of a DWPC (Himmelstein et al. 2017).

    Shapes:
        a: ``(N, M)``; return: ``(N, M)`` CSR float32.
    """
    a = sp.csr_matrix(a, dtype=np.float32)
    rd = np.asarray(a.sum(axis=1)).ravel()
    cd = np.asarray(a.sum(axis=0)).ravel()
    with np.errstate(divide="ignore"):
        rs = np.where(rd > 0, rd ** -w, 0.0).astype(np.float32)
        cs = np.where(cd > 0, cd ** -w, 0.0).astype(np.float32)
    return sp.csr_matrix(sp.diags(rs) @ a @ sp.diags(cs), dtype=np.float32)


def row_normalize(a: sp.spmatrix | np.ndarray, norm: str = "l2") -> sp.csr_matrix | np.ndarray:
    """Scale rows to unit L2 (or L1) norm; zero rows stay zero."""
    if sp.issparse(a):
        a = sp.csr_matrix(a, dtype=np.float32)
        sq = a.multiply(a) if norm == "l2" else abs(a)
        n = np.asarray(sq.sum(axis=1)).ravel()
        n = np.sqrt(n) if norm == "l2" else n
        inv = np.where(n > 0, 1.0 / np.maximum(n, 1e-12), 0.0).astype(np.float32)
        return sp.csr_matrix(sp.diags(inv) @ a)
    a = np.asarray(a, dtype=np.float32)
    n = np.linalg.norm(a, axis=1) if norm == "l2" else np.abs(a).sum(axis=1)
    return a / np.where(n > 0, n, 1.0)[:, None]


def idf_weight(a: sp.csr_matrix) -> sp.csr_matrix:
    """Weight binary feature columns by inverse document frequency ``log(1 + N / df)``."""
    df = np.asarray((a > 0).sum(axis=0)).ravel()
    idf = np.where(df > 0, np.log1p(a.shape[0] / np.maximum(df, 1)), 0.0).astype(np.float32)
    return sp.csr_matrix(a @ sp.diags(idf))


def cosine_similarity(a: sp.csr_matrix, zero_diagonal: bool = True, top_k: int | None = None) -> sp.csr_matrix:
    """Row-row cosine similarity, optionally keeping only each row's ``top_k`` neighbours.

    Shapes:
        a: ``(N, F)``; return: ``(N, N)`` CSR float32.
    """
    n = row_normalize(a)
    s = sp.csr_matrix(n @ n.T, dtype=np.float32)
    if zero_diagonal:
        s.setdiag(0)
        s.eliminate_zeros()
    if top_k is not None:
        s = keep_top_k(s, top_k)
    return s


def keep_top_k(s: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row of a CSR matrix."""
    s = sp.csr_matrix(s)
    rows, cols, vals = [], [], []
    for i in range(s.shape[0]):
        lo, hi = s.indptr[i], s.indptr[i + 1]
        if hi == lo:
            continue
        d = s.data[lo:hi]
        idx = s.indices[lo:hi]
        if hi - lo > k:
            top = np.argpartition(-d, k - 1)[:k]
            d, idx = d[top], idx[top]
        rows.append(np.full(len(d), i))
        cols.append(idx)
        vals.append(d)
    if not rows:
        return sp.csr_matrix(s.shape, dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=s.shape, dtype=np.float32)


@dataclass
class IndicationData:
    """The disease x drug (and patient x drug) interaction view of a graph.

    Attributes:
        disease_ids: ``(D,)`` Disease ids in table order.
        drug_ids: ``(C,)`` Drug ids in table order (the items every recommender ranks).
        patient_ids: ``(P,)`` Patient ids (empty when the graph has none).
        treats: ``(D, C)`` binary CSR of ``TREATS``.
        palliates: ``(D, C)`` binary CSR of ``PALLIATES``.
        indications: ``(D, C)`` binary CSR, union of both (the CF interaction matrix).
        patient_drugs: ``(P, C)`` binary CSR of ``(Patient)-[:TAKES]->(Drug)``.
    """

    disease_ids: np.ndarray
    drug_ids: np.ndarray
    patient_ids: np.ndarray
    treats: sp.csr_matrix
    palliates: sp.csr_matrix
    indications: sp.csr_matrix
    patient_drugs: sp.csr_matrix

    @classmethod
    def from_tables(cls, tables: GraphTables) -> "IndicationData":
        """Build the view; raises RecommendError when the graph has no Disease or Drug nodes."""
        for label in (DISEASE, DRUG):
            if len(tables.nodes.get(label, ())) == 0:
                raise RecommendError(
                    f"the graph has no {label} nodes; export at least labels {DISEASE!r} and {DRUG!r} "
                    f"with relationship types {INDICATION_TYPES}"
                )
        treats = adjacency(tables, DISEASE, "TREATS", DRUG)
        pall = adjacency(tables, DISEASE, "PALLIATES", DRUG)
        ind = sp.csr_matrix(((treats + pall) > 0).astype(np.float32))
        patients = np.asarray(tables.nodes.get(PATIENT, np.zeros(0, dtype=object)), dtype=object)
        takes = adjacency(tables, PATIENT, "TAKES", DRUG) if len(patients) else sp.csr_matrix((0, len(tables.nodes[DRUG])), dtype=np.float32)
        return cls(
            disease_ids=np.asarray(tables.nodes[DISEASE], dtype=object),
            drug_ids=np.asarray(tables.nodes[DRUG], dtype=object),
            patient_ids=patients,
            treats=treats,
            palliates=pall,
            indications=ind,
            patient_drugs=takes,
        )

    @property
    def n_diseases(self) -> int:
        return len(self.disease_ids)

    @property
    def n_drugs(self) -> int:
        return len(self.drug_ids)

    def indication_type(self, disease: int, drug: int) -> str:
        """``TREATS`` or ``PALLIATES`` for a known pair (``TREATS`` wins when both)."""
        return "TREATS" if self.treats[disease, drug] else "PALLIATES"


def as_id_list(ids: str | Iterable[str]) -> list[str]:
    """Accept one id or an iterable of ids (batch-first API)."""
    if isinstance(ids, str):
        return [ids]
    return [str(i) for i in ids]
