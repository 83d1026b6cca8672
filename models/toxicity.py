"""Toxicity (ADMET) predictions from structure, with an applicability domain and
graph knowledge for hERG.

Structure model: admet-ai 2.0.1's Chemprop-v2 ensembles (Swanson et al.,
Bioinformatics 2024; MIT), 5 models per ensemble. By default only the
classification ensemble runs (31 TDC tasks: hERG, DILI, ClinTox, AMES, the 12
Tox21 assays, CYP inhibition/substrates, BBB, …); ``tasks="all"`` adds the
regression ensemble (LD50, solubility, …). Inference featurises each molecule
once and runs all ensemble members on the same batched graph (admet-ai's own
``ADMETModel.predict`` re-featurises per member through a Lightning trainer);
the outputs are identical (checked in tests/unit/test_toxicity.py).

Applicability domain: admet-ai does not ship its TDC training sets. The domain
reference is the set admet-ai ships and itself compares against: its 2,845
DrugBank approved drugs (``resources/data/drugbank_approved.csv``). A compound
whose nearest reference compound has Morgan (radius 2, 2048 bits) Tanimoto
below ``DOMAIN_THRESHOLD`` is ``out_of_domain``.

hERG with graph knowledge (``HergCombiner``): a logistic model on
``logit(p_structure)``, the drug's own QT/torsade side effects in the graph
(SIDER), whether it BINDS KCNH2 (Hetionet), and the QT side-effect rate among
its 10 structurally nearest graph drugs (itself excluded). Coefficients are
fitted on the shipped QT reference list (models/data/qt_reference.csv) by
``python -m benchmarks.toxicity --fit``; cross-validated AUROC in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graph_engine.chem import Structure, admet_ai_dir, drugbank_approved_path, morgan_matrix, read_drugbank_approved, tanimoto_matrix
from graph_engine.errors import ModelError
from models.knowledge import DrugKnowledge

MODEL_NAME = "admet-ai"
DOMAIN_THRESHOLD = 0.30
KNN_K = 10
DOMAIN_REFERENCE = "admet-ai 2.0.1 drugbank_approved.csv (2,845 DrugBank approved drugs; Morgan r=2, 2048 bits)"
COMBINER_FILE = "herg_combiner.json"

#: this package's folder (see graph_engine.schema._PACKAGE_DIR)
_PACKAGE_DIR = Path(__file__).resolve().parent


def admet_version() -> str:
    from importlib.metadata import version

    try:
        return version("admet-ai")
    except Exception as e:
        raise ModelError("admet-ai is not installed; pip install -e '.[dev]' brings it") from e


def default_models_dir() -> Path:
    return admet_ai_dir() / "resources" / "models"


def drugbank_reference_path() -> Path:
    return drugbank_approved_path()


@lru_cache(maxsize=1)
def drugbank_reference() -> tuple[list[str], list[str], np.ndarray, dict[str, str]]:
    """(DrugBank CURIEs, SMILES, Morgan matrix, InChIKey-connectivity-block -> CURIE) of the reference set."""
    from rdkit import Chem

    from graph_engine.chem import mol_from_smiles

    rows = [(rid, smi) for _, rid, smi, _ in read_drugbank_approved() if smi and rid != "DRUGBANK:"]
    ids, smiles = [r[0] for r in rows], [r[1] for r in rows]
    by_key: dict[str, str] = {}
    for i, s in zip(ids, smiles):
        mol = mol_from_smiles(s)
        key = Chem.MolToInchiKey(mol) if mol is not None else ""
        if key:
            by_key.setdefault(key[:14], i)
    return ids, smiles, morgan_matrix(smiles), by_key


@dataclass
class ToxicityModel:
    """Loaded Chemprop ensembles; ``tasks`` lists the output columns in order."""

    models_dir: Path
    tasks: list[str]
    ensembles: list[tuple[list[str], list[Any]]]
    version: str
    combiner: "HergCombiner | None" = None

    @property
    def name(self) -> str:
        return MODEL_NAME

    @property
    def model_version(self) -> str:
        return self.version

    def predict_smiles(self, smiles: Sequence[str], batch_size: int = 500) -> np.ndarray:
        """``(n, len(tasks))`` probabilities / values; raises ModelError on an unparsable SMILES."""
        import torch
        from chemprop.data import BatchMolGraph
        from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer

        from graph_engine.chem import mol_from_smiles

        feat = SimpleMoleculeMolGraphFeaturizer()
        graphs = []
        for i, s in enumerate(smiles):
            mol = mol_from_smiles(s)
            if mol is None:
                raise ModelError(f"record {i + 1}: RDKit cannot parse SMILES {s[:80]!r}")
            graphs.append(feat(mol))
        out = np.zeros((len(graphs), len(self.tasks)), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(graphs), batch_size):
                bmg = BatchMolGraph(graphs[start : start + batch_size])
                col = 0
                for tasks, members in self.ensembles:
                    p = torch.stack([m(bmg) for m in members]).mean(0).double().numpy()
                    out[start : start + p.shape[0], col : col + len(tasks)] = p.reshape(p.shape[0], -1)
                    col += len(tasks)
        return out


def load_toxicity_model(models_dir: Path | str | None = None, tasks: str = "classification",
                        knowledge: bool = True) -> ToxicityModel:
    """Load admet-ai's ensembles (or a folder in the same layout: one sub-folder of ``*.pt`` per ensemble).

    Args:
        models_dir: default: admet-ai's shipped models.
        tasks: ``classification`` (default; every toxicity endpoint) or ``all`` (adds regression).
        knowledge: attach the shipped hERG combiner (used only when knowledge is given at predict time).
    """
    from chemprop.models import load_model
    from chemprop.models.utils import load_output_columns

    if tasks not in ("classification", "all"):
        raise ModelError(f"tasks must be 'classification' or 'all', got {tasks!r}")
    root = Path(models_dir) if models_dir else default_models_dir()
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.pt"))) if root.is_dir() else []
    if not subdirs:
        raise ModelError(f"{root}: no model ensembles (expected sub-folders with Chemprop *.pt files)")
    if tasks == "classification" and models_dir is None:
        subdirs = [p for p in subdirs if "classification" in p.name]
    ensembles = []
    for d in subdirs:
        paths = sorted(d.glob("*.pt"))
        try:
            members = [load_model(p, multicomponent=False).eval() for p in paths]
            names = list(load_output_columns(paths[0]))
        except Exception as e:  # corrupt or foreign checkpoint
            raise ModelError(f"{d}: cannot load Chemprop ensemble ({type(e).__name__}: {e})") from e
        ensembles.append((names, members))
    all_tasks = [t for names, _ in ensembles for t in names]
    version = admet_version() if models_dir is None else f"custom:{root.name}"
    model = ToxicityModel(root, all_tasks, ensembles, version)
    drugbank_reference()  # the applicability-domain fingerprints: loaded once, with the model, not per call
    if knowledge and "hERG" in all_tasks:
        model.combiner = HergCombiner.load()
    return model


# ---------------------------------------------------------------------- domain + knowledge
def domain(smiles: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(nearest reference Tanimoto, out_of_domain) per SMILES against :data:`DOMAIN_REFERENCE`."""
    _, _, ref, _ = drugbank_reference()
    sims = tanimoto_matrix(morgan_matrix(smiles), ref)
    nearest = sims.max(axis=1) if sims.shape[1] else np.zeros(len(smiles))
    return nearest, nearest < DOMAIN_THRESHOLD


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


@dataclass
class KnowledgeFeatures:
    """Graph features of each compound for the hERG combiner."""

    drug_ids: list[str | None]
    self_qt: np.ndarray
    kcnh2: np.ndarray
    knn_qt: np.ndarray


def identify(structures: Sequence[Structure], knowledge: DrugKnowledge | None) -> list[str | None]:
    """The graph Drug id of each compound: its own id when the graph knows it, else its InChIKey
    connectivity block matched to the DrugBank reference set."""
    _, _, _, by_key = drugbank_reference()
    known = knowledge.drugs() if knowledge else set()
    return [s.id if s.id in known else (by_key.get(s.inchikey[:14]) if s.inchikey else None)
            for s in structures]


def knowledge_features(structures: Sequence[Structure], knowledge: DrugKnowledge) -> KnowledgeFeatures:
    ids, _, ref, _ = drugbank_reference()
    drug_ids = identify(structures, knowledge)
    labelled = [i for i, d in enumerate(ids) if d in knowledge.side_effects]
    lab_ids = [ids[i] for i in labelled]
    y = np.array([knowledge.has_qt(d) for d in lab_ids], dtype=np.float64)
    sims = tanimoto_matrix(morgan_matrix([s.smiles for s in structures]), ref[labelled]) if labelled else None
    knn = np.zeros(len(structures))
    if sims is not None:
        for r, did in enumerate(drug_ids):
            row = sims[r].astype(np.float64)
            if did is not None:
                row[[j for j, d in enumerate(lab_ids) if d == did]] = -1.0  # never its own label twice
            top = np.argsort(-row)[:KNN_K]
            w = np.clip(row[top], 0, None)
            knn[r] = float((w * y[top]).sum() / w.sum()) if w.sum() > 0 else 0.0
    self_qt = np.array([d is not None and knowledge.has_qt(d) for d in drug_ids], dtype=np.float64)
    kcnh2 = np.array([d is not None and knowledge.binds_kcnh2(d) for d in drug_ids], dtype=np.float64)
    return KnowledgeFeatures(drug_ids, self_qt, kcnh2, knn)


FEATURES = ("logit_herg", "self_qt", "kcnh2", "knn_qt")


@dataclass
class HergCombiner:
    """``p = sigmoid(b0 + sum(b_i * feature_i))`` over :data:`FEATURES`."""

    intercept: float
    coef: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> "HergCombiner | None":
        p = path or _PACKAGE_DIR.joinpath("data", COMBINER_FILE)
        if not p.is_file():
            return None
        d = json.loads(p.read_text(encoding="utf-8"))
        return cls(float(d["intercept"]), {k: float(v) for k, v in d["coef"].items()}, d.get("meta", {}))

    def matrix(self, p_struct: np.ndarray, kf: KnowledgeFeatures) -> np.ndarray:
        return np.column_stack([_logit(p_struct), kf.self_qt, kf.kcnh2, kf.knn_qt])

    def apply(self, p_struct: np.ndarray, kf: KnowledgeFeatures) -> np.ndarray:
        z = self.intercept + self.matrix(p_struct, kf) @ np.array([self.coef[f] for f in FEATURES])
        return 1.0 / (1.0 + np.exp(-z))


@dataclass
class ToxicityPrediction:
    id: str
    predictions: dict[str, float]
    out_of_domain: bool
    nearest_training_similarity: float
    drug_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "predictions": self.predictions, "out_of_domain": self.out_of_domain,
                "nearest_training_similarity": self.nearest_training_similarity}


def predict_structures(model: ToxicityModel, structures: Sequence[Structure],
                       knowledge: DrugKnowledge | None = None, batch_size: int = 500) -> list[ToxicityPrediction]:
    """Predict every structure. With ``knowledge`` (and the shipped combiner) ``hERG`` is the graph-combined
    probability and ``hERG_structure`` the structure-only one; without it both are the structure probability."""
    if not structures:
        return []
    raw = model.predict_smiles([s.smiles for s in structures], batch_size=batch_size)
    nearest, ood = domain([s.smiles for s in structures])
    herg = raw[:, model.tasks.index("hERG")] if "hERG" in model.tasks else None
    combined = None
    drug_ids: list[str | None] = [None] * len(structures)
    if herg is not None and knowledge is not None and model.combiner is not None:
        kf = knowledge_features(structures, knowledge)
        combined = model.combiner.apply(herg, kf)
        drug_ids = kf.drug_ids
    out = []
    for i, s in enumerate(structures):
        preds = {t: round(float(raw[i, j]), 6) for j, t in enumerate(model.tasks)}
        if herg is not None:
            preds["hERG_structure"] = preds["hERG"]
            if combined is not None:
                preds["hERG"] = round(float(combined[i]), 6)
        sim = float(nearest[i])
        out.append(ToxicityPrediction(s.id, preds, bool(ood[i]), round(sim if math.isfinite(sim) else 0.0, 4),
                                      drug_ids[i]))
    return out
