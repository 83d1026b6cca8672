"""Patient-level drug recommendations from Synthea histories: fit, evaluate, and fit from the graph.

Evaluation protocol (``medkg evaluate patient-recommend``): fit on a training export; on a validation
export cut at ``as_of``, every disorder first diagnosed in ``[as_of, as_of + 365 d)`` that got a
medication for it (``REASONCODE`` = the disorder, started on or after the diagnosis, inside the window)
is a case; the patient's history is what started before ``as_of``; the prescribed ingredients are the
answer. Hits@5/10 and MRR for the model, the condition-frequency baseline and popularity, after the
same safety filter (drugs already taken and allergies removed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from graph_engine.client import GraphClient
from graph_engine.errors import RecommendError
from graph_engine.synthea import SyntheaTables, semantic_tag
from ingest.synthea.mapping import Linker
from recommend.history import HistoryRecommender, rank_metrics
from recommend.patients import SafetyIndex


def default_linker() -> Linker:
    """The extraction linker over the shipped vocabulary (graph ids of the Hetionet-based graph)."""
    from ingest.text.vocabulary import Vocabulary, default_vocabulary_path

    return Linker(Vocabulary.load(default_vocabulary_path()))


def prescriptions(tables: SyntheaTables, linker: Linker) -> pd.DataFrame:
    """``pid, drug, reason, start, stop`` with one row per ingredient of each medication row."""
    med = tables.table("medications")
    cache: dict[tuple[str, str], list[str]] = {}
    drugs = []
    for code, desc in zip(med["code"], med["description"]):
        key = (code, desc)
        if key not in cache:
            cache[key] = list(dict.fromkeys(p[0] for p in linker.medication(code, desc)))
        drugs.append(cache[key])
    out = med.assign(drug=drugs).explode("drug")
    return pd.DataFrame({"pid": out["pid"].to_numpy(), "drug": out["drug"].to_numpy(),
                         "reason": out["reason_code"].fillna("").to_numpy() if "reason_code" in out else "",
                         "start": out["start"].to_numpy(), "stop": out["stop"].to_numpy()})


def past_codes(tables: SyntheaTables, before: np.datetime64 | None = None) -> pd.DataFrame:
    c = tables.table("conditions")
    if before is not None:
        c = c[c["start"].to_numpy() < before.astype("datetime64[ns]")]
    return pd.DataFrame({"pid": c["pid"].to_numpy(), "code": c["code"].astype(str).to_numpy()}).drop_duplicates()


def drug_allergies(tables: SyntheaTables, linker: Linker) -> dict[str, set[str]]:
    a = tables.table("allergies")
    out: dict[str, set[str]] = {}
    if len(a):
        system = a["system"] if "system" in a else pd.Series("", index=a.index)
        category = a["category"] if "category" in a else pd.Series("", index=a.index)
        for pid, code, desc, sysname, cat in zip(a["pid"], a["code"], a["description"], system, category):
            if str(sysname).lower() == "rxnorm" or str(cat) == "medication":
                out.setdefault(pid, set()).update(p[0] for p in linker.medication(code, desc))
    return out


def fit_from_tables(tables: SyntheaTables, linker: Linker) -> HistoryRecommender:
    return HistoryRecommender().fit(prescriptions(tables, linker), past_codes(tables))


def evaluate_patient_recommendations(train: SyntheaTables, val: SyntheaTables, linker: Linker,
                                     as_of: np.datetime64 | str | None = None, horizon_days: int = 365) -> dict[str, Any]:
    model = fit_from_tables(train, linker)
    t0 = np.datetime64(str(as_of), "D") if as_of is not None else (val.end_date - np.timedelta64(horizon_days, "D")).astype("datetime64[D]")
    t1 = t0 + np.timedelta64(horizon_days, "D")
    ns0, ns1 = t0.astype("datetime64[ns]"), t1.astype("datetime64[ns]")
    rx = prescriptions(val, linker)
    cond = val.table("conditions")
    dis = cond[cond["description"].map(semantic_tag) == "disorder"]
    first = dis.groupby(["pid", "code"])["start"].min().reset_index()
    new = first[(first["start"] >= ns0) & (first["start"] < ns1)]
    hist_rx = rx[rx["start"].to_numpy() < ns0]
    current = hist_rx[hist_rx["stop"].isna() | (hist_rx["stop"].to_numpy() >= ns0)]
    cur_by = current.groupby("pid")["drug"].agg(set).to_dict()
    codes_by = past_codes(val, t0).groupby("pid")["code"].agg(set).to_dict()
    allergies = drug_allergies(val, linker)
    win = rx[(rx["start"].to_numpy() >= ns0) & (rx["start"].to_numpy() < ns1) & (rx["reason"] != "")]
    by_case = win.groupby(["pid", "reason"])
    ranked: dict[str, list[list[str]]] = {"model": [], "condition_frequency": [], "popularity": []}
    relevant: list[set[str]] = []
    skipped_unknown = 0
    for pid, code, when in zip(new["pid"], new["code"], new["start"]):
        key = (pid, str(code))
        if key not in by_case.groups:
            continue
        g = by_case.get_group(key)
        rel = set(g.loc[g["start"] >= when, "drug"])
        if not rel:
            continue
        if str(code) not in model.by_reason:
            skipped_unknown += 1
        relevant.append(rel)
        for method in ranked:
            recs = model.recommend(str(code), cur_by.get(pid, set()), codes_by.get(pid, set()),
                                   allergies.get(pid, set()), k=10, method=method)
            ranked[method].append([r.drug for r in recs])
    if not relevant:
        raise RecommendError(f"no new diagnosis in [{t0}, {t1}) got a medication for it in {val.directory}")
    out = {"as_of": str(t0), "cases": len(relevant), "conditions_unseen_in_training": skipped_unknown}
    for method, r in ranked.items():
        out[method] = rank_metrics(r, relevant)
    return out


# ---------------------------------------------------------------- from the graph
def fit_from_graph(client: GraphClient, safety: SafetyIndex | None = None) -> tuple[HistoryRecommender, dict[str, set[str]]]:
    """Fit on the graph's Synthea patients; also returns Drug INTERACTS_WITH partners: those of ``safety``
    (default :meth:`SafetyIndex.from_graph`: curated interactions, text-mined ones from the documented
    confidence up)."""
    rx = client.read("MATCH (p:Patient)-[t:TAKES]->(d:Drug) "
                     "RETURN p.id AS pid, d.id AS drug, coalesce(t.reason_codes, []) AS reasons")
    rows = [(r["pid"], r["drug"], reason) for r in rx for reason in (r["reasons"] or [""])]
    if not rows:
        raise RecommendError("no (:Patient)-[:TAKES]->(:Drug) in the graph; import patients first "
                             "(medkg ingest patients --format synthea --input DIR)")
    codes = client.read("MATCH (p:Patient)-[h:HAS_CONDITION]->(:Disease) UNWIND coalesce(h.codes, [h.code]) AS code "
                        "RETURN p.id AS pid, code")
    treats = client.read("MATCH (c:Drug)-[:TREATS|PALLIATES]->(d:Disease) "
                         "UNWIND [x IN coalesce(d.xrefs, []) WHERE x STARTS WITH 'SNOMEDCT:'] AS x "
                         "RETURN substring(x, 9) AS code, collect(DISTINCT c.id) AS drugs")
    model = HistoryRecommender().fit(pd.DataFrame(rows, columns=["pid", "drug", "reason"]),
                                     pd.DataFrame(codes, columns=["pid", "code"]) if codes else
                                     pd.DataFrame({"pid": [], "code": []}),
                                     {r["code"]: r["drugs"] for r in treats})
    safety = SafetyIndex.from_graph(client) if safety is None else safety
    partners = {d: safety.partners(d) for d in map(str, model.drugs)}
    return model, {d: p for d, p in partners.items() if p}


def patient_state(client: GraphClient, patient: str) -> dict[str, Any]:
    rows = client.read(
        "MATCH (p:Patient {id: $id}) "
        "OPTIONAL MATCH (p)-[t:TAKES]->(d:Drug) WHERE t.stop IS NULL "
        "WITH p, collect(DISTINCT d.id) AS current "
        "OPTIONAL MATCH (p)-[h:HAS_CONDITION]->(:Disease) "
        "WITH p, current, collect(h.codes) AS cs "
        "OPTIONAL MATCH (p)-[:ALLERGIC_TO]->(a:Drug) "
        "RETURN current, cs, collect(DISTINCT a.id) AS allergies", {"id": patient})
    if not rows:
        raise RecommendError(f"patient {patient!r} is not in the graph")
    r = rows[0]
    return {"current": set(r["current"]), "codes": {c for cs in r["cs"] for c in (cs or [])},
            "allergies": set(r["allergies"])}


def recommend_for_condition(client: GraphClient, patient: str, condition: str, k: int = 10,
                            on_conflict: str = "flag") -> list[dict[str, Any]]:
    """``medkg recommend --patient ID --condition CODE``: ranked ingredients with safety flags."""
    code = condition.split(":", 1)[1] if condition.upper().startswith("SNOMEDCT:") else condition
    safety = SafetyIndex.from_graph(client)
    model, inter = fit_from_graph(client, safety)
    if code not in model.by_reason:
        raise RecommendError(f"no patient in the graph was prescribed anything for SNOMED CT {code}; "
                             f"known reason codes include {', '.join(model.conditions()[:5])}")
    st = patient_state(client, patient)
    recs = model.recommend(code, st["current"], st["codes"], st["allergies"], inter, k=k, on_conflict=on_conflict)
    names = {r["id"]: r["name"] for r in client.read("MATCH (d:Drug) WHERE d.id IN $ids RETURN d.id AS id, d.name AS name",
                                                     {"ids": [r.drug for r in recs]})}
    return [{"target": patient, "condition": f"SNOMEDCT:{code}", "drug": r.drug, "name": names.get(r.drug),
             "score": round(r.score, 6), "rank": r.rank, "flags": r.flags,
             "flag_evidence": safety.flag_evidence(r.drug, r.flags)} for r in recs]


__all__ = ["evaluate_patient_recommendations", "recommend_for_condition", "fit_from_graph", "Path"]
