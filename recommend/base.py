"""The recommender contract, explanations, the registry and model artifacts.

Every recommender ranks the ``Drug`` nodes of the graph it was fitted on for a
batch of targets (``Disease`` ids; ``Patient`` ids too for collaborative
filtering when the graph has patients)::

    rec = get_recommender("hybrid", seed=0).fit(tables)
    ids, scores = rec.recommend(["DOID:9352", "DOID:1612"], k=10)   # (2, 10) each
    rec.explain("DOID:9352", ids[0, 0]).paths[:3]
    rec.save(path); same = load_recommender(path)

Subclasses implement ``_fit`` and ``_score_rows`` (a dense ``(B, C)`` block of
scores, higher is better), plus ``_get_state`` / ``_set_state`` for artifacts
and optionally ``_explain``.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence, TypeVar

import numpy as np
import scipy.sparse as sp

from graph_engine.errors import ModelError, RecommendError
from graph_engine.registry import Registry
from graph_engine.export import GraphTables

from recommend.data import IndicationData, as_id_list

ARTIFACT_FORMAT = 1


@dataclass
class PathContribution:
    """One supporting path (or signal) behind a score.

    Attributes:
        nodes: ``[(label, id), ...]`` from the drug to the target.
        rels: relationship types between consecutive nodes (``len(nodes) - 1``);
            a leading ``<`` marks an edge traversed against its direction.
        contribution: this path's share of the score (same units as the score
            for additive models; log-odds for the hybrid).
        metapath: the metapath or signal this path instantiates (``CbGaD`` ...).
    """

    nodes: list[tuple[str, str]]
    rels: list[str]
    contribution: float
    metapath: str = ""

    def text(self) -> str:
        """``Drug DB1 -BINDS-> Gene 5 <-ASSOCIATES- Disease DOID:1`` style rendering."""
        if not self.nodes:
            return f"[{self.metapath}] {self.contribution:+.4g}"
        out = f"{self.nodes[0][0]} {self.nodes[0][1]}"
        for rel, (label, nid) in zip(self.rels, self.nodes[1:]):
            out += f" <-{rel[1:]}- " if rel.startswith("<") else f" -{rel}-> "
            out += f"{label} {nid}"
        return f"{out}  ({self.metapath} {self.contribution:+.4g})"


@dataclass
class Explanation:
    """Why ``item`` is recommended for ``target``.

    Attributes:
        target, item: the target (Disease/Patient) id and the Drug id.
        method: the recommender name.
        score: the score ``recommend`` gives this pair.
        paths: supporting paths / signals, largest contribution first.
        note: a sentence for signals without paths (popularity, random ...).
    """

    target: str
    item: str
    method: str
    score: float
    paths: list[PathContribution] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["paths"] = [
            {"nodes": [list(n) for n in p.nodes], "rels": p.rels, "contribution": p.contribution,
             "metapath": p.metapath, "text": p.text()}
            for p in self.paths
        ]
        return d


class Recommender(ABC):
    """Base class: fit on :class:`GraphTables`, rank drugs for target ids, explain, save, load.

    Args:
        seed: random seed for anything stochastic (splits, factorisation, tie-breaks).
    """

    name: ClassVar[str] = "base"
    #: whether patient ids are valid targets (CF when the graph has patients).
    supports_patients: ClassVar[bool] = False

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self.data: IndicationData | None = None
        self.fingerprint: str = ""
        self.fitted_at: float = 0.0
        self._target_index: dict[str, int] = {}
        self._item_index: dict[str, int] = {}

    # ----- public contract -------------------------------------------------
    def params(self) -> dict[str, Any]:
        """Constructor parameters (for artifacts and Run nodes)."""
        return {"seed": self.seed}

    def fit(self, tables: GraphTables) -> "Recommender":
        """Fit on an exported graph; returns ``self``.

        Raises:
            RecommendError: the graph lacks Disease or Drug nodes or what the method needs.
        """
        self.data = IndicationData.from_tables(tables)
        self.fingerprint = tables.fingerprint()
        self._build_indexes()
        self._fit(tables)
        self.fitted_at = time.time()
        return self

    @property
    def item_ids(self) -> np.ndarray:
        """``(C,)`` Drug ids, the columns of every score block."""
        return self._data().drug_ids

    @property
    def target_ids(self) -> np.ndarray:
        """Ids accepted by :meth:`recommend` (diseases, then patients where supported)."""
        d = self._data()
        return np.concatenate([d.disease_ids, d.patient_ids]) if self.supports_patients else d.disease_ids

    def score(self, target_ids: str | Iterable[str]) -> np.ndarray:
        """Scores of every drug for each target.

        Shapes:
            return: ``(B, C)`` float32, columns in :attr:`item_ids` order.

        Raises:
            RecommendError: not fitted, or an unknown target id.
        """
        rows = self.rows_of(target_ids)
        return np.asarray(self._score_rows(rows), dtype=np.float32)

    def recommend(
        self,
        target_ids: str | Iterable[str],
        k: int | None = 10,
        exclude_known: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` drugs for each target, best first.

        Args:
            target_ids: one id or a batch of Disease (or Patient) ids.
            k: how many drugs per target; ``None`` for all of them.
            exclude_known: drop drugs already known to treat / palliate the target.

        Returns:
            ``(ids, scores)``: ``(B, k)`` object array of Drug ids and ``(B, k)`` float32 scores.
            With ``exclude_known`` rows may hold fewer real items; the gaps are ``""`` / ``-inf``.

        Raises:
            RecommendError: not fitted, unknown target, or ``k < 1``.

        Example:
            >>> ids, scores = rec.recommend(["DOID:9352"], k=5)
        """
        if k is not None and k < 1:
            raise RecommendError(f"k must be >= 1 (or None for all drugs), got {k}")
        rows = self.rows_of(target_ids)
        s = np.asarray(self._score_rows(rows), dtype=np.float32)
        if exclude_known:
            known = self.known_matrix(rows)
            s = np.where(known, -np.inf, s).astype(np.float32)
        n_items = s.shape[1]
        kk = n_items if k is None else min(k, n_items)
        if kk < n_items:
            part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        else:
            part = np.tile(np.arange(n_items), (len(rows), 1))
        ps = np.take_along_axis(s, part, axis=1)
        # stable order: score desc, then item index asc (deterministic ties)
        order = np.lexsort((part, -ps), axis=1)
        idx = np.take_along_axis(part, order, axis=1)
        scores = np.take_along_axis(ps, order, axis=1)
        ids = self.item_ids[idx]
        ids = np.where(np.isneginf(scores), "", ids).astype(object)
        return ids, scores.astype(np.float32)

    def explain(self, target: str, item: str, top: int = 5) -> Explanation:
        """The top supporting paths / signals for one (target, drug) pair.

        Raises:
            RecommendError: not fitted, unknown target or unknown drug.
        """
        row = self.rows_of([target])[0]
        col = self.col_of(item)
        score = float(self._score_rows(np.array([row]))[0, col])
        exp = self._explain(row, col, top)
        exp.target, exp.item, exp.method, exp.score = str(target), str(item), self.name, score
        exp.paths = sorted(exp.paths, key=lambda p: -abs(p.contribution))[:top]
        return exp

    # ----- helpers for subclasses and callers ---------------------------------
    def rows_of(self, target_ids: str | Iterable[str]) -> np.ndarray:
        """Row indices of target ids; raises RecommendError naming unknown ids."""
        self._data()
        ids = as_id_list(target_ids)
        missing = [i for i in ids if i not in self._target_index]
        if missing:
            raise RecommendError(
                f"{self.name}: unknown target id(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
                f"targets are the Disease ids{' and Patient ids' if self.supports_patients else ''} "
                f"of the graph the model was fitted on ({len(self._target_index)} known)"
            )
        return np.array([self._target_index[i] for i in ids], dtype=np.int64)

    def col_of(self, item: str) -> int:
        self._data()
        try:
            return self._item_index[str(item)]
        except KeyError:
            raise RecommendError(f"{self.name}: unknown drug id {item!r}") from None

    def known_matrix(self, rows: np.ndarray) -> np.ndarray:
        """``(B, C)`` bool: drugs known to treat/palliate (diseases) or taken (patients)."""
        d = self._data()
        out = np.zeros((len(rows), d.n_drugs), dtype=bool)
        for b, r in enumerate(rows):
            if r < d.n_diseases:
                out[b, d.indications[r].indices] = True
            else:
                out[b, d.patient_drugs[r - d.n_diseases].indices] = True
        return out

    def _data(self) -> IndicationData:
        if self.data is None:
            raise RecommendError(f"{self.name}: not fitted; call fit(tables) or load a saved model first")
        return self.data

    def _build_indexes(self) -> None:
        self._target_index = {str(t): i for i, t in enumerate(self.target_ids)}
        self._item_index = {str(t): i for i, t in enumerate(self._data().drug_ids)}

    # ----- to implement ------------------------------------------------------
    @abstractmethod
    def _fit(self, tables: GraphTables) -> None:
        """Fit from the tables (``self.data`` is already built)."""

    @abstractmethod
    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        """``(B, C)`` scores for target rows (diseases ``0..D-1``, then patients)."""

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        return Explanation("", "", self.name, 0.0, note=f"{self.name} gives no path-level explanation")

    def _get_state(self) -> dict[str, Any]:
        return {}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        return None

    # ----- artifacts -----------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to directory ``path`` (``meta.json`` + ``arrays.npz``, no pickle).

        Raises:
            RecommendError: not fitted.
        """
        d = self._data()
        state = {
            "data": {
                "disease_ids": d.disease_ids.astype(str), "drug_ids": d.drug_ids.astype(str),
                "patient_ids": d.patient_ids.astype(str), "treats": d.treats, "palliates": d.palliates,
                "patient_drugs": d.patient_drugs,
            },
            "model": self._get_state(),
        }
        arrays: dict[str, np.ndarray] = {}
        tree = _flatten(state, "", arrays)
        meta = {
            "format": ARTIFACT_FORMAT, "method": self.name, "class": type(self).__name__,
            "params": self.params(), "fingerprint": self.fingerprint, "fitted_at": self.fitted_at,
            "state": tree,
        }
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out / "arrays.npz", **arrays)
        (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return out

    @property
    def model_version(self) -> str:
        """Method, fingerprint prefix and fit time: what a Recommendation node records."""
        return f"{self.name}-{self.fingerprint[:12]}-{int(self.fitted_at)}"


def load_recommender(path: str | Path) -> Recommender:
    """Load a model written by :meth:`Recommender.save`.

    Raises:
        ModelError: the directory is missing, from another format version, or names an unknown method.
    """
    p = Path(path)
    if not (p / "meta.json").exists() or not (p / "arrays.npz").exists():
        raise ModelError(f"no recommender artifact at {p} (expected meta.json and arrays.npz); "
                         "fit one with `medkg recommend fit`")
    meta = json.loads((p / "meta.json").read_text(encoding="utf-8"))
    if meta.get("format") != ARTIFACT_FORMAT:
        raise ModelError(f"{p}: artifact format {meta.get('format')} != {ARTIFACT_FORMAT}; refit the model")
    with np.load(p / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    state = _unflatten(meta["state"], arrays)
    rec = get_recommender(meta["method"], **meta["params"])
    _restore(rec, state)
    rec.fingerprint = meta["fingerprint"]
    rec.fitted_at = meta["fitted_at"]
    return rec


def _restore(rec: Recommender, state: Mapping[str, Any]) -> None:
    d = state["data"]
    rec.data = IndicationData(
        disease_ids=np.asarray(d["disease_ids"]).astype(object),
        drug_ids=np.asarray(d["drug_ids"]).astype(object),
        patient_ids=np.asarray(d["patient_ids"]).astype(object),
        treats=d["treats"], palliates=d["palliates"],
        indications=sp.csr_matrix(((d["treats"] + d["palliates"]) > 0).astype(np.float32)),
        patient_drugs=d["patient_drugs"],
    )
    rec._build_indexes()
    rec._set_state(state["model"])


def _flatten(obj: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """Replace arrays / sparse matrices in a nested state by references into ``arrays``."""
    if isinstance(obj, Recommender):
        raise TypeError("nest recommender states with _get_state(), not the object")
    if sp.issparse(obj):
        m = sp.csr_matrix(obj)
        for part in ("data", "indices", "indptr"):
            arrays[f"{key}.{part}"] = getattr(m, part)
        return {"__csr__": key, "shape": list(m.shape)}
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            obj = obj.astype(str)
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, dict):
        return {"__dict__": {str(k): _flatten(v, f"{key}/{k}", arrays) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, f"{key}/{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def _unflatten(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if "__csr__" in obj:
            k = obj["__csr__"]
            return sp.csr_matrix((arrays[f"{k}.data"], arrays[f"{k}.indices"], arrays[f"{k}.indptr"]),
                                 shape=tuple(obj["shape"]))
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__dict__" in obj:
            return {k: _unflatten(v, arrays) for k, v in obj["__dict__"].items()}
        return obj
    if isinstance(obj, list):
        return [_unflatten(v, arrays) for v in obj]
    return obj


# ----- registry ------------------------------------------------------------------
R = TypeVar("R", bound=type[Recommender])
def _ensure_loaded() -> None:
    # importing the modules runs their @register decorators
    import recommend.baselines  # noqa: F401
    import recommend.cf  # noqa: F401
    import recommend.content  # noqa: F401
    import recommend.gnn  # noqa: F401
    import recommend.graph  # noqa: F401
    import recommend.hybrid  # noqa: F401


#: Recommender classes by name (:class:`graph_engine.registry.Registry`).
RECOMMENDERS: Registry[type[Recommender]] = Registry("recommender", RecommendError, loader=_ensure_loaded)


def register(name: str) -> Callable[[R], R]:
    """Class decorator: make a recommender resolvable by ``name``."""

    def deco(cls: R) -> R:
        RECOMMENDERS.add(name, cls)
        cls.name = name
        return cls

    return deco


def available() -> list[str]:
    """Registered recommender names."""
    return RECOMMENDERS.names()


def get_recommender(name: str, **params: Any) -> Recommender:
    """Instantiate a recommender by name (``"cf"``, ``"content"``, ``"ppr"``, ``"gnn"``, ``"hybrid"`` ...).

    Raises:
        RecommendError: unknown name or bad parameters.
    """
    cls = RECOMMENDERS.get(name)
    try:
        return cls(**params)
    except TypeError as e:
        raise RecommendError(f"bad parameters for recommender {name!r}: {e}") from e


def check_targets(ids: Sequence[str]) -> list[str]:
    """Validate a batch of target ids at the API boundary."""
    out = as_id_list(ids)
    if not out:
        raise RecommendError("no target ids given")
    return out
