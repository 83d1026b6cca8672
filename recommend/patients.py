"""Pseudonymous patients: import format, synthetic cohorts, safety filter, per-patient ranking.

Import format (JSON Lines, one patient per line, UTF-8)::

    {"id": "SYNTH:P0001", "synthetic": true,
     "conditions": ["DOID:9352"],                 # Disease ids
     "current_drugs": ["DRUGBANK:DB00331"],       # Drug ids the patient takes
     "avoid_side_effects": ["UMLS:C0020649"],     # SideEffect ids to avoid
     "allergies": ["DRUGBANK:DB00945"]}           # Drug ids the patient must not get

``id`` is a pseudonym (letters, digits, ``_ . : -``; :func:`graph_engine.phi.check_patient_id`
refuses ids holding a date, an SSN- or phone-like number or a personal name); the keys
above are the only ones allowed (any other key is refused, naming the key, never its
value); every key but ``id`` is optional and defaults to empty. ``synthetic`` is a real
boolean (``true`` / ``false``, or the strings ``"true"`` / ``"false"``), default false, kept
on the graph node. Errors name the file, the line and the field, never the refused value. In the graph a patient is
``(:Patient {id, synthetic})`` with ``HAS_CONDITION -> Disease``,
``TAKES -> Drug``, ``AVOIDS -> SideEffect`` and ``ALLERGIC_TO -> Drug``
(:func:`patient_records`, :func:`patients_from_tables`).

:func:`recommend_for_patient` ranks drugs for the patient's conditions and
never lets a drug that ``INTERACTS_WITH`` a current drug, ``CAUSES`` an avoided
side effect, or is listed as an allergy through unflagged: with
``on_conflict="remove"`` (default) such drugs are dropped, with ``"flag"`` they
stay with their reasons in ``flags``.

Predicted risks (``(:Prediction {kind: 'toxicity'})`` nodes, :class:`PredictedRisks`) are
screened by :data:`RISK_RULES`: a drug whose predicted probability reaches the rule's threshold
in the rule's patient context is flagged ``predicted_risk:<task>=<p> …`` naming the model and
probability (details in ``predicted_risks``). Predicted risks never remove a drug, in either mode.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from graph_engine.chem import QT_SIDE_EFFECTS
from graph_engine.errors import IngestError, RecommendError
from graph_engine.export import GraphTables
from graph_engine.phi import PHIError, check_patient_id, parse_synthetic
from graph_engine.records import EdgeRecord, NodeRecord

from recommend.base import Recommender
from recommend.data import DISEASE, DRUG, PATIENT, adjacency

SIDE_EFFECT = "SideEffect"
SYNTHETIC_SOURCE = "medkg-synthetic-cohort"


@dataclass
class Patient:
    """One pseudonymous patient (see the module docstring for the file format)."""

    id: str
    conditions: list[str] = field(default_factory=list)
    current_drugs: list[str] = field(default_factory=list)
    avoid_side_effects: list[str] = field(default_factory=list)
    allergies: list[str] = field(default_factory=list)
    synthetic: bool = False

    def __post_init__(self) -> None:
        try:
            check_patient_id(self.id)
            self.synthetic = parse_synthetic(self.synthetic)
        except PHIError as e:
            raise RecommendError(str(e)) from None
        for name in ("conditions", "current_drugs", "avoid_side_effects", "allergies"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise RecommendError(f"patient field {name!r} must be a list of id strings")
            setattr(self, name, list(dict.fromkeys(value)))


#: the fields of the patient import format: nothing else is accepted
PATIENT_FIELDS = ("id", "synthetic", "conditions", "current_drugs", "avoid_side_effects", "allergies")
_KEYS = set(PATIENT_FIELDS)
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


def _field_names(keys: Iterable[str]) -> str:
    """Unknown keys for an error message: names that look like field names; others only counted."""
    shown = sorted(k for k in keys if _FIELD_NAME.match(k))
    hidden = len(set(keys)) - len(shown)
    return ", ".join(map(repr, shown)) + (f"{', ' if shown else ''}{hidden} key(s) not shown" if hidden else "")


def read_patients(path: str | Path) -> list[Patient]:
    """Read a JSONL patient file.

    Raises:
        IngestError: bad JSON, unknown keys, a non-pseudonymous id, a non-boolean ``synthetic``
            or duplicate ids (with the line and the field; never the refused value).
    """
    p = Path(path)
    if not p.exists():
        raise IngestError("patient file not found", str(p))
    out: list[Patient] = []
    seen: dict[str, int] = {}
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise IngestError(f"invalid JSON: {e.msg}", str(p), n) from e
            if not isinstance(obj, dict) or "id" not in obj:
                raise IngestError("expected an object with an 'id'", str(p), n)
            unknown = set(obj) - _KEYS
            if unknown:
                raise IngestError(f"unknown keys {_field_names(unknown)}; allowed fields: "
                                  f"{', '.join(PATIENT_FIELDS)}", str(p), n)
            try:
                pat = Patient(**obj)
            except RecommendError as e:
                raise IngestError(str(e), str(p), n) from None
            if pat.id in seen:
                raise IngestError(f"duplicate patient id (the same as line {seen[pat.id]})", str(p), n)
            seen[pat.id] = n
            out.append(pat)
    return out


def write_patients(path: str | Path, patients: Iterable[Patient]) -> Path:
    """Write patients as JSONL (the import format)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        for pat in patients:
            fh.write(json.dumps(asdict(pat), sort_keys=True) + "\n")
    return p


def patient_records(patients: Iterable[Patient], source: str = "patients") -> tuple[list[NodeRecord], list[EdgeRecord]]:
    """Node and edge records for loading patients through the graph writer."""
    nodes, edges = [], []
    for pat in patients:
        src = SYNTHETIC_SOURCE if pat.synthetic else source
        nodes.append(NodeRecord(PATIENT, pat.id, source=src, properties={"synthetic": pat.synthetic}))
        for rel, label, ids in (("HAS_CONDITION", DISEASE, pat.conditions), ("TAKES", DRUG, pat.current_drugs),
                                ("AVOIDS", SIDE_EFFECT, pat.avoid_side_effects), ("ALLERGIC_TO", DRUG, pat.allergies)):
            edges += [EdgeRecord(rel, PATIENT, pat.id, label, i, source=src) for i in ids]
    return nodes, edges


def patients_from_tables(tables: GraphTables) -> list[Patient]:
    """Patients of an exported graph (``synthetic`` is unknown there and left False)."""
    ids = tables.nodes.get(PATIENT)
    if ids is None or len(ids) == 0:
        return []
    lists = {}
    for rel, label, name in (("HAS_CONDITION", DISEASE, "conditions"), ("TAKES", DRUG, "current_drugs"),
                             ("AVOIDS", SIDE_EFFECT, "avoid_side_effects"), ("ALLERGIC_TO", DRUG, "allergies")):
        a = adjacency(tables, PATIENT, rel, label) if label in tables.nodes else sp.csr_matrix((len(ids), 0))
        targets = tables.nodes.get(label, np.zeros(0, dtype=object))
        lists[name] = [[str(targets[j]) for j in a[i].indices] for i in range(len(ids))]
    return [Patient(str(pid), conditions=lists["conditions"][i], current_drugs=lists["current_drugs"][i],
                    avoid_side_effects=lists["avoid_side_effects"][i], allergies=lists["allergies"][i])
            for i, pid in enumerate(ids)]


#: Diseases treated as "liver disease" by the DILI rule (Disease Ontology ids; Hetionet has 12236, 2043, 3571).
LIVER_DISEASES = frozenset({
    "DOID:409",    # liver disease
    "DOID:3571",   # liver cancer
    "DOID:684",    # hepatocellular carcinoma
    "DOID:12236",  # primary biliary cirrhosis
    "DOID:5082",   # liver cirrhosis
    "DOID:2237",   # hepatitis
    "DOID:2043",   # hepatitis B
    "DOID:1883",   # hepatitis C
    "DOID:9452",   # fatty liver disease
})


@dataclass(frozen=True)
class RiskRule:
    """Flag a candidate drug when its predicted ``task`` probability >= ``threshold`` and the patient
    matches ``context`` (``qt``: takes a QT-prolonging drug; ``liver``: has a liver disease)."""

    task: str
    threshold: float
    context: str


#: hERG: 0.5 on the graph-combined probability (models.toxicity; at 0.5 it flags most of the QT
#: reference list's withdrawn/boxed drugs and few of its common drugs, see BENCHMARKS.md);
#: DILI: 0.5 on admet-ai's DILI probability (its training labels are binary DILI concern).
RISK_RULES = (RiskRule("hERG", 0.5, "qt"), RiskRule("DILI", 0.5, "liver"))


@dataclass(frozen=True)
class Risk:
    probability: float
    model: str
    model_version: str


class PredictedRisks:
    """Predicted toxicity per drug and task, plus the drugs known to prolong QT."""

    def __init__(self, risks: dict[str, dict[str, Risk]], qt_drugs: Iterable[str] = (),
                 rules: Sequence[RiskRule] = RISK_RULES) -> None:
        self.risks = risks
        self.qt_drugs = set(qt_drugs)
        self.rules = tuple(rules)

    READ = ("MATCH (p:Prediction {kind: 'toxicity'})-[:FOR]->(d:Drug) WHERE p.task IN $tasks "
            "RETURN d.id AS drug, p.task AS task, p.probability AS p, p.model AS model, p.model_version AS mv")
    READ_QT = "MATCH (d:Drug)-[:CAUSES]->(s:SideEffect) WHERE s.id IN $terms RETURN DISTINCT d.id AS drug"

    @classmethod
    def from_graph(cls, client: Any, rules: Sequence[RiskRule] = RISK_RULES) -> "PredictedRisks":
        risks: dict[str, dict[str, Risk]] = {}
        for r in client.read(cls.READ, {"tasks": sorted({x.task for x in rules})}):
            risks.setdefault(r["drug"], {})[r["task"]] = Risk(float(r["p"]), str(r["model"]), str(r["mv"]))
        qt = [r["drug"] for r in client.read(cls.READ_QT, {"terms": sorted(QT_SIDE_EFFECTS)})]
        return cls(risks, qt, rules)

    def qt_prolonging(self, drug: str) -> bool:
        """Known (CAUSES a QT term) or predicted (hERG at or above the hERG rule's threshold)."""
        if drug in self.qt_drugs:
            return True
        herg = self.risks.get(drug, {}).get("hERG")
        return herg is not None and any(r.task == "hERG" and herg.probability >= r.threshold for r in self.rules)

    def check(self, drug: str, patient: "Patient") -> list[dict[str, Any]]:
        out = []
        for rule in self.rules:
            risk = self.risks.get(drug, {}).get(rule.task)
            if risk is None or risk.probability < rule.threshold:
                continue
            if rule.context == "qt":
                why = [d for d in patient.current_drugs if d != drug and self.qt_prolonging(d)]
                reason = f"patient takes QT-prolonging {', '.join(why)}" if why else None
            elif rule.context == "liver":
                why = [c for c in patient.conditions if c in LIVER_DISEASES]
                reason = f"patient has liver disease {', '.join(why)}" if why else None
            else:
                raise RecommendError(f"unknown risk context {rule.context!r}")
            if reason:
                out.append({"task": rule.task, "probability": risk.probability, "threshold": rule.threshold,
                            "model": risk.model, "model_version": risk.model_version, "reason": reason})
        return out


def risk_flag(r: dict[str, Any]) -> str:
    return (f"predicted_risk:{r['task']}={r['probability']:.2f}>={r['threshold']:.2f} "
            f"({r['model']} {r['model_version']}; {r['reason']})")


#: The default confidence a text-mined-only ``INTERACTS_WITH`` needs to count in the safety index
#: (``SafetyIndex.from_graph``, ``medkg recommend fit --min-text-confidence``). Chosen on the held-out
#: validation part of the DDI 2013 train folder (``benchmarks/safety_text.py``, BENCHMARKS.md issue 19):
#: see README "Safety filter: curated and text-mined interactions".
DEFAULT_MIN_TEXT_CONFIDENCE = 0.6
#: the ``sources`` entry of text-mined relationships (``ingest.text.cypher``)
TEXT_SOURCE = "text"
#: text evidence kept per interaction (the best-scored sentences)
MAX_TEXT_EVIDENCE = 3


def check_min_text_confidence(value: float) -> float:
    """``value`` as a float in ``[0, 1]``, else RecommendError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise RecommendError(f"min_text_confidence must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= v <= 1.0:  # also refuses NaN
        raise RecommendError(f"min_text_confidence must be in [0, 1], got {v}")
    return v


def interaction_evidence(row: dict[str, Any], min_text_confidence: float,
                         max_text: int = MAX_TEXT_EVIDENCE) -> list[dict[str, Any]] | None:
    """The evidence of one ``INTERACTS_WITH`` relationship as the safety index keeps it, or ``None``
    when it does not count.

    ``row``: ``sources``, ``confidence``, ``interaction_type``, ``sentences``, ``evidence_pmids``,
    ``evidence_scores`` (as :data:`recommend.cypher.READ_INTERACTIONS` returns them). A relationship with
    any source other than ``"text"`` (or none recorded) is curated and always counts: one evidence item per
    curated source. A text-mined-only one counts when ``confidence >= min_text_confidence``. Text evidence
    (also on a curated relationship that text confirms): the ``max_text`` best-scored sentences, each
    ``{"source": "text", "pmid", "sentence", "score", "confidence", "interaction_type"}``.
    """
    sources = [str(s) for s in (row.get("sources") or [])]
    curated = [s for s in sources if s != TEXT_SOURCE] or ([] if TEXT_SOURCE in sources else ["unknown"])
    conf = row.get("confidence")
    conf = None if conf is None else float(conf)
    kind = row.get("interaction_type")
    if not curated and (conf is None or conf < min_text_confidence):
        return None
    out: list[dict[str, Any]] = [{"source": s, "pmid": None, "sentence": None, "score": None,
                                  "confidence": None, "interaction_type": kind} for s in curated]
    if TEXT_SOURCE in sources:
        sents = list(row.get("sentences") or [])
        pmids = list(row.get("evidence_pmids") or [])
        scores = list(row.get("evidence_scores") or [])
        order = sorted(range(len(sents)), key=lambda i: (-(float(scores[i]) if i < len(scores) else 0.0), i))
        for i in order[:max_text]:
            out.append({"source": TEXT_SOURCE, "pmid": str(pmids[i]) if i < len(pmids) else None,
                        "sentence": str(sents[i]), "score": float(scores[i]) if i < len(scores) else None,
                        "confidence": conf, "interaction_type": kind})
        if not sents:
            out.append({"source": TEXT_SOURCE, "pmid": None, "sentence": None, "score": None,
                        "confidence": conf, "interaction_type": kind})
    return out


def _pair(a: str, b: str) -> str:
    """The evidence key of an unordered drug pair (JSON-able: ``"a|b"``, sorted)."""
    x, y = sorted((a, b))
    return f"{x}|{y}"


class SafetyIndex:
    """Drug-drug interactions and drug -> side-effect links used to screen recommendations.

    Built from whatever ``INTERACTS_WITH`` (Drug-Drug, either direction) and
    ``(Drug)-[:CAUSES]->(SideEffect)`` edges the graph has: :meth:`from_tables` counts every exported
    ``INTERACTS_WITH`` (no properties, no evidence); :meth:`from_graph` reads them with their
    properties from Neo4j, keeps curated ones and text-mined ones with ``confidence >=
    min_text_confidence`` (:data:`DEFAULT_MIN_TEXT_CONFIDENCE`), and carries their evidence, which
    :meth:`flag_evidence` returns per ``interacts_with:<id>`` flag.
    """

    def __init__(self, drug_ids: Sequence[str], interactions: sp.csr_matrix, causes: sp.csr_matrix,
                 side_effect_ids: Sequence[str], evidence: dict[str, list[dict[str, Any]]] | None = None,
                 min_text_confidence: float | None = None) -> None:
        self.drug_ids = np.asarray(drug_ids).astype(str)
        self.side_effect_ids = np.asarray(side_effect_ids).astype(str)
        self.interactions = sp.csr_matrix(interactions)
        self.causes = sp.csr_matrix(causes)
        self._drug = {d: i for i, d in enumerate(self.drug_ids)}
        self._se = {s: i for i, s in enumerate(self.side_effect_ids)}
        self.predicted: PredictedRisks | None = None
        #: per unordered pair (``"a|b"``, sorted ids): the evidence of the interaction
        self.evidence: dict[str, list[dict[str, Any]]] = dict(evidence or {})
        #: the text threshold the index was built with (``None``: from exported tables, every interaction)
        self.min_text_confidence = min_text_confidence

    def with_predicted_risks(self, predicted: PredictedRisks | None) -> "SafetyIndex":
        """Also screen with predicted toxicity (flags only; never removes)."""
        self.predicted = predicted
        return self

    def predicted_flags(self, drug: str, patient: Patient) -> list[dict[str, Any]]:
        return self.predicted.check(drug, patient) if self.predicted is not None else []

    @classmethod
    def from_tables(cls, tables: GraphTables) -> "SafetyIndex":
        drugs = tables.nodes.get(DRUG, np.zeros(0, dtype=object))
        ses = tables.nodes.get(SIDE_EFFECT, np.zeros(0, dtype=object))
        return cls(list(map(str, drugs)), adjacency(tables, DRUG, "INTERACTS_WITH", DRUG),
                   adjacency(tables, DRUG, "CAUSES", SIDE_EFFECT), list(map(str, ses)))

    @classmethod
    def from_graph(cls, client: Any, min_text_confidence: float = DEFAULT_MIN_TEXT_CONFIDENCE) -> "SafetyIndex":
        """Read ``INTERACTS_WITH`` with its properties and ``(Drug)-[:CAUSES]->(SideEffect)`` from Neo4j.

        Curated interactions (a source other than ``"text"``) always count; text-mined-only ones count
        when their ``confidence >= min_text_confidence`` (see :func:`interaction_evidence`).

        Raises:
            RecommendError: ``min_text_confidence`` outside ``[0, 1]``.
        """
        from recommend import cypher

        thr = check_min_text_confidence(min_text_confidence)
        evidence: dict[str, list[dict[str, Any]]] = {}
        pairs: list[tuple[str, str]] = []
        for row in client.read(cypher.READ_INTERACTIONS, {"min_text_confidence": thr}):
            a, b = str(row["a"]), str(row["b"])
            ev = interaction_evidence(row, thr)
            if ev is None or a == b:
                continue
            key = _pair(a, b)
            if key not in evidence:
                pairs.append((a, b))
            evidence.setdefault(key, []).extend(e for e in ev if e not in evidence.get(key, []))
        causes = [(str(r["drug"]), str(r["side_effect"])) for r in client.read(cypher.READ_DRUG_SIDE_EFFECTS, {})]
        drug_ids = sorted({d for p in pairs for d in p} | {d for d, _ in causes})
        se_ids = sorted({s for _, s in causes})
        di, si = {d: i for i, d in enumerate(drug_ids)}, {s: i for i, s in enumerate(se_ids)}
        n = len(drug_ids)
        rows = [di[a] for a, _ in pairs]
        cols = [di[b] for _, b in pairs]
        inter = sp.csr_matrix((np.ones(len(pairs) * 2), (rows + cols, cols + rows)), shape=(n, n))
        inter.data[:] = 1.0
        c = sp.csr_matrix((np.ones(len(causes)), ([di[d] for d, _ in causes], [si[s] for _, s in causes])),
                          shape=(n, len(se_ids)))
        c.data[:] = 1.0
        return cls(drug_ids, inter, c, se_ids, evidence, thr)

    def flags(self, drug: str, patient: Patient) -> list[str]:
        """Why ``drug`` is unsafe for ``patient`` (empty when nothing is known against it)."""
        out = []
        if drug in patient.allergies:
            out.append(f"allergy:{drug}")
        i = self._drug.get(drug)
        if i is None:
            return out
        partners = set(self.drug_ids[self.interactions[i].indices].tolist())
        out += [f"interacts_with:{d}" for d in patient.current_drugs if d in partners]
        caused = set(self.side_effect_ids[self.causes[i].indices].tolist())
        out += [f"causes:{s}" for s in patient.avoid_side_effects if s in caused]
        return out

    def partners(self, drug: str) -> set[str]:
        """The drugs ``drug`` interacts with in this index."""
        i = self._drug.get(drug)
        return set() if i is None else set(self.drug_ids[self.interactions[i].indices].tolist())

    def interaction_evidence(self, a: str, b: str) -> list[dict[str, Any]]:
        """The evidence kept for the interaction of ``a`` and ``b`` (empty when none is known)."""
        return [dict(e) for e in self.evidence.get(_pair(a, b), [])]

    def flag_evidence(self, drug: str, flags: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Per ``interacts_with:<id>`` flag of ``drug``: the evidence of that interaction (source = the
        curated list's name or ``"text"``, PMID / document id, sentence, confidence, interaction_type)."""
        prefix = "interacts_with:"
        return {f: self.interaction_evidence(drug, f[len(prefix):]) for f in flags if f.startswith(prefix)}

    def save(self, path: str | Path) -> Path:
        """An ``.npz`` of plain arrays (no pickle); the evidence travels as one JSON string."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"format": 2, "min_text_confidence": self.min_text_confidence, "evidence": self.evidence},
                          sort_keys=True)
        np.savez_compressed(p, drug_ids=self.drug_ids, side_effect_ids=self.side_effect_ids,
                            i_data=self.interactions.data, i_indices=self.interactions.indices,
                            i_indptr=self.interactions.indptr, c_data=self.causes.data,
                            c_indices=self.causes.indices, c_indptr=self.causes.indptr,
                            meta_json=np.array(meta))
        return p

    @classmethod
    def load(cls, path: str | Path) -> "SafetyIndex":
        """Load a saved index; an index saved before evidence was kept loads with no evidence."""
        with np.load(path, allow_pickle=False) as z:
            n, m = len(z["drug_ids"]), len(z["side_effect_ids"])
            inter = sp.csr_matrix((z["i_data"], z["i_indices"], z["i_indptr"]), shape=(n, n))
            causes = sp.csr_matrix((z["c_data"], z["c_indices"], z["c_indptr"]), shape=(n, m))
            meta = json.loads(str(z["meta_json"])) if "meta_json" in z.files else {}
            return cls(z["drug_ids"], inter, causes, z["side_effect_ids"], meta.get("evidence"),
                       meta.get("min_text_confidence"))


@dataclass
class PatientRecommendation:
    """One ranked drug for a patient; ``flags`` lists safety conflicts (empty when none)."""

    drug: str
    score: float
    rank: int
    flags: list[str] = field(default_factory=list)
    for_conditions: list[str] = field(default_factory=list)
    predicted_risks: list[dict[str, Any]] = field(default_factory=list)
    #: per ``interacts_with:<id>`` flag: its evidence (:meth:`SafetyIndex.flag_evidence`)
    flag_evidence: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class PatientResult:
    """Recommendations for one patient plus the conditions the model could not use."""

    patient: str
    items: list[PatientRecommendation]
    skipped_conditions: list[str] = field(default_factory=list)
    removed: int = 0
    #: the drugs the safety filter removed (``on_conflict="remove"``), best first, with their flags and
    #: ``flag_evidence`` (``rank`` 0: they are not in the list)
    removed_items: list[PatientRecommendation] = field(default_factory=list)


def recommend_for_patient(
    model: Recommender,
    patient: Patient,
    safety: SafetyIndex,
    k: int = 10,
    on_conflict: str = "remove",
) -> PatientResult:
    """Rank drugs for a patient's conditions with the safety filter applied.

    A drug's score is its best score over the patient's conditions (``for_conditions``
    names the conditions where it scores best). Drugs the patient already takes are
    not proposed.

    Args:
        model: a fitted recommender.
        patient: the patient.
        safety: interactions / side effects to screen against.
        k: how many drugs to return.
        on_conflict: ``"remove"`` drops unsafe drugs; ``"flag"`` keeps them with ``flags``.

    Raises:
        RecommendError: bad ``on_conflict`` / ``k``, or none of the patient's conditions
            (nor the patient) is known to the model.
    """
    if on_conflict not in ("remove", "flag"):
        raise RecommendError(f"on_conflict must be 'remove' or 'flag', got {on_conflict!r}")
    if k < 1:
        raise RecommendError(f"k must be >= 1, got {k}")
    known = set(map(str, model.target_ids))
    conds = [c for c in patient.conditions if c in known]
    skipped = [c for c in patient.conditions if c not in known]
    targets = conds or ([patient.id] if patient.id in known else [])
    if not targets:
        raise RecommendError(
            f"patient {patient.id}: none of the conditions {patient.conditions} is a Disease the model "
            f"{model.name!r} was fitted on")
    scores = model.score(targets)  # (T, C)
    best = scores.max(axis=0)
    items: list[PatientRecommendation] = []
    removed: list[PatientRecommendation] = []
    taking = set(patient.current_drugs)
    for c in np.lexsort((np.arange(len(best)), -best)):
        drug = str(model.item_ids[c])
        if drug in taking:
            continue
        flags = safety.flags(drug, patient)
        top = [t for t, s in zip(targets, scores[:, c]) if s == best[c]]
        if flags and on_conflict == "remove":
            removed.append(PatientRecommendation(drug, float(best[c]), 0, flags, top,
                                                 flag_evidence=safety.flag_evidence(drug, flags)))
            continue
        predicted = safety.predicted_flags(drug, patient)  # flagged, never removed
        items.append(PatientRecommendation(drug, float(best[c]), len(items) + 1,
                                           flags + [risk_flag(r) for r in predicted], top, predicted,
                                           safety.flag_evidence(drug, flags)))
        if len(items) == k:
            break
    return PatientResult(patient.id, items, skipped, len(removed), removed)


def synthetic_cohort(tables: GraphTables, n: int = 20, seed: int = 0, prefix: str = "SYNTH:P") -> list[Patient]:
    """A seeded cohort of **synthetic** patients for demos and tests (``synthetic=True``).

    Conditions are diseases with known indications; current drugs mix their
    treatments with random drugs; side effects to avoid are drawn from those of
    the candidate treatments so the safety filter has work to do.
    """
    rng = np.random.default_rng(seed)
    drugs = tables.nodes.get(DRUG, np.zeros(0, dtype=object))
    dis = tables.nodes.get(DISEASE, np.zeros(0, dtype=object))
    if len(drugs) == 0 or len(dis) == 0:
        raise RecommendError("a synthetic cohort needs Disease and Drug nodes")
    ind = (adjacency(tables, DISEASE, "TREATS", DRUG) + adjacency(tables, DISEASE, "PALLIATES", DRUG)).tocsr()
    causes = adjacency(tables, DRUG, "CAUSES", SIDE_EFFECT) if SIDE_EFFECT in tables.nodes else None
    ses = tables.nodes.get(SIDE_EFFECT, np.zeros(0, dtype=object))
    pool = np.flatnonzero(np.diff(ind.indptr) > 0)
    if len(pool) == 0:
        pool = np.arange(len(dis))
    out = []
    width = max(4, len(str(n)))
    for i in range(n):
        conds = rng.choice(pool, size=min(len(pool), int(rng.integers(1, 4))), replace=False)
        current: list[str] = []
        candidates: list[int] = []
        for d in conds:
            treat = ind[d].indices
            candidates += treat.tolist()
            if len(treat) and rng.random() < 0.6:
                current.append(str(drugs[rng.choice(treat)]))
        current += [str(drugs[j]) for j in rng.choice(len(drugs), size=int(rng.integers(0, 3)), replace=False)]
        avoid: list[str] = []
        if causes is not None and candidates:
            cand_se = np.unique(np.concatenate([causes[c].indices for c in candidates] + [np.zeros(0, dtype=np.int64)]))
            if len(cand_se):
                avoid = [str(ses[j]) for j in rng.choice(cand_se, size=min(len(cand_se), int(rng.integers(0, 3))), replace=False)]
        allergies = [str(drugs[rng.integers(len(drugs))])] if rng.random() < 0.3 else []
        out.append(Patient(f"{prefix}{i + 1:0{width}d}", [str(dis[d]) for d in conds],
                           list(dict.fromkeys(current)), avoid, allergies, synthetic=True))
    return out


def result_rows(result: PatientResult) -> list[dict[str, Any]]:
    """JSON-ready rows ``{"target", "drug", "score", "rank", "flags"}``."""
    return [{"target": result.patient, "drug": it.drug, "score": it.score, "rank": it.rank, "flags": it.flags}
            for it in result.items]
