"""Entry points shared by the CLI, the Python API and the tests.

Models live under ``<models_dir>/recommend/<method>/`` (``meta.json`` +
``arrays.npz``); ``<models_dir>/recommend/LATEST`` names the last fitted method
and ``<models_dir>/recommend/safety.npz`` holds the interaction / side-effect
index for patient recommendations.

Example:
    >>> path = fit_and_save(tables, "hybrid", Settings.load().models_dir)
    >>> model = load_model(Settings.load().models_dir)
    >>> disease_rows(model, ["DOID:9352"], k=5)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from graph_engine.errors import ModelError, RecommendError
from graph_engine.export import GraphTables

from recommend.base import RECOMMENDERS, Recommender, get_recommender, load_recommender
from recommend.data import EXPORT_LABELS, EXPORT_REL_TYPES, as_id_list
from recommend.patients import (DEFAULT_MIN_TEXT_CONFIDENCE, Patient, PatientResult, SafetyIndex,
                               recommend_for_patient)

DEFAULT_METHOD = "hybrid"


def recommend_root(models_dir: str | Path) -> Path:
    return Path(models_dir) / "recommend"


def export_for_recommend(client: Any) -> GraphTables:
    """The slice of the live graph the recommenders read (``client.export``)."""
    return client.export(labels=list(EXPORT_LABELS), rel_types=list(EXPORT_REL_TYPES))


def graph_structures(client: Any) -> dict[str, str]:
    """``{drug id: SMILES}`` of every Drug node with a ``smiles`` property."""
    from recommend import cypher

    return {str(r["id"]): str(r["smiles"]) for r in client.read(cypher.DRUG_STRUCTURES)}


def graph_params(client: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """``params`` plus what ``method`` reads from the live graph besides its edges: the structure
    recommenders get the shipped DrugBank structures overlaid with the graph's own ``smiles`` (so a
    compound loaded with ``medkg ingest structures``, even one with no edges, is scored)."""
    from recommend.structure import StructureRecommender, default_structures

    out = dict(params or {})
    cls = RECOMMENDERS.get(method)
    if issubclass(cls, StructureRecommender) and out.get("structures") is None:
        own = graph_structures(client)
        if own:
            out["structures"] = {**default_structures(), **own}
    return out


def safety_from_graph(client: Any, min_text_confidence: float = DEFAULT_MIN_TEXT_CONFIDENCE) -> SafetyIndex:
    """The safety index of the live graph: ``INTERACTS_WITH`` with its properties (curated ones, and
    text-mined ones with ``confidence >= min_text_confidence``) and their evidence
    (:meth:`SafetyIndex.from_graph`)."""
    return SafetyIndex.from_graph(client, min_text_confidence=min_text_confidence)


def fit_and_save(tables: GraphTables, method: str, models_dir: str | Path, seed: int = 0,
                 safety: SafetyIndex | None = None, **params: Any) -> Path:
    """Fit ``method`` on ``tables``, save it, the safety index, and mark it as the latest model.

    ``safety``: the index to save (e.g. :func:`safety_from_graph`); by default one built from
    ``tables`` (every exported ``INTERACTS_WITH`` counts, no evidence).
    """
    root = recommend_root(models_dir)
    model = get_recommender(method, seed=seed, **params).fit(tables)
    path = model.save(root / method)
    (safety if safety is not None else SafetyIndex.from_tables(tables)).save(root / "safety.npz")
    (root / "LATEST").write_text(method + "\n", encoding="utf-8")
    return path


def load_model(models_dir: str | Path, method: str | None = None) -> Recommender:
    """Load ``method``'s saved model, or the latest fitted one.

    Raises:
        ModelError: no model has been fitted (says which command fits one).
    """
    root = recommend_root(models_dir)
    if method is None:
        latest = root / "LATEST"
        method = latest.read_text(encoding="utf-8").strip() if latest.exists() else DEFAULT_METHOD
    if not (root / method / "meta.json").exists():
        raise ModelError(f"no fitted {method!r} recommender under {root}; run `medkg recommend fit --method {method}`")
    return load_recommender(root / method)


def load_safety(models_dir: str | Path) -> SafetyIndex:
    p = recommend_root(models_dir) / "safety.npz"
    if not p.exists():
        raise ModelError(f"no safety index at {p}; run `medkg recommend fit` first")
    return SafetyIndex.load(p)


def disease_rows(model: Recommender, disease_ids: str | Iterable[str], k: int | None = 10,
                 exclude_known: bool = False) -> list[dict[str, Any]]:
    """``{"target", "drug", "score", "rank"}`` rows, best first per disease (``k=None``: all drugs)."""
    targets = as_id_list(disease_ids)
    ids, scores = model.recommend(targets, k=k, exclude_known=exclude_known)
    out = []
    for t, drugs, ss in zip(targets, ids, scores):
        for rank, (d, s) in enumerate(zip(drugs, ss), start=1):
            if d != "":
                out.append({"target": t, "drug": str(d), "score": float(s), "rank": rank})
    return out


def patient_from_graph(client: Any, patient_id: str) -> Patient:
    """Read one patient's profile from Neo4j.

    Raises:
        RecommendError: no such patient.
    """
    from recommend.cypher import READ_PATIENT

    rows = client.read(READ_PATIENT, {"id": patient_id})
    if not rows:
        raise RecommendError(f"no (:Patient {{id: {patient_id!r}}}) in the graph; import patients first")
    r = rows[0]
    return Patient(r["id"], list(r["conditions"]), list(r["current_drugs"]), list(r["avoid_side_effects"]),
                   list(r["allergies"]), bool(r.get("synthetic", False)))


def patient_result(model: Recommender, safety: SafetyIndex, patient: Patient, k: int = 10,
                   on_conflict: str = "remove") -> PatientResult:
    return recommend_for_patient(model, patient, safety, k=k, on_conflict=on_conflict)
