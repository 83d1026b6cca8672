"""A small neural pair classifier for sentence-level relations (``INTERACTS_WITH`` from DDI 2013).

The encoder is a piecewise CNN over the sentence around the two mentions:

* **entity blinding**: the pair's two mentions become one token each, ``DRUG1`` (the
  first) and ``DRUG2`` (the second); every other mention of the sentence becomes
  ``DRUG0`` (names carry little signal and let a model memorise drug pairs);
* each token is its word vector (the in-domain static vectors the shipped NER model was
  trained with, frozen, looked up by exact text then lower case) plus learned
  embeddings of its distance to ``DRUG1`` and to ``DRUG2`` (clipped at
  :data:`MAX_POSITION`);
* one convolution (window 3) with ReLU, or (``encoder="bilstm"``) a bidirectional LSTM over the
  packed sequence; max pooling over the three pieces of the sentence (before ``DRUG1``, between
  the two, after ``DRUG2``) and the hidden states at the two mentions, dropout, one linear layer
  over the classes (``none`` first, then the types).

``P(relation) = 1 - P(none)``; a pair is a relation when it reaches the model's
threshold (chosen on validation data), and its type is the most probable other class.

An artifact may hold several such networks (``members``: the same training with other seeds,
:meth:`PairCnnModel.ensemble`), whose class probabilities are averaged; with ``mix_weight < 1`` its
P(relation) is further averaged with a linear model's (``relation_probs(probs, linear)``), which the
pipeline checks is the linear model it was fitted with. ``directed`` models (the TARGETS companion)
mark the subject ``DRUG1`` and the object ``DRUG2`` whatever their order (:func:`encode_directed`).

The artifact is a torch ``state_dict`` of tensors only (loaded with
``weights_only=True``) plus a JSON side file with the config, the classes, the threshold,
the training data fingerprint, metrics and the fingerprint of the word vectors; the
vectors are not copied (they ship with the NER model), and a model is refused when the
vectors it finds are not the ones it was trained with.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy

from graph_engine.errors import ModelError
from ingest.text.components.cache import EntTuple

PAD, UNK, DRUG0, DRUG1, DRUG2 = 0, 1, 2, 3, 4
#: rows of the learned table before the word-vector rows
N_SPECIAL = 5
SPECIAL_TOKENS = ("<pad>", "<unk>", "DRUG0", "DRUG1", "DRUG2")
#: distances to a mention beyond this share one embedding
MAX_POSITION = 30
#: tokens kept before the first and after the second mention
CONTEXT = 12
#: the longest encoded pair (tokens), the rest of a long sentence is cut between the mentions
MAX_LENGTH = 96
ARTIFACT_VERSION = "0.5.0"
#: the config fields that make networks interchangeable (the members of an ensemble share them)
ARCHITECTURE = ("filters", "window", "dim_pos", "directed", "object_head", "tune_vectors", "encoder")
#: the sentence encoders: a convolution (``window`` wide, ``filters`` maps) or a bidirectional LSTM
#: (``filters // 2`` units each way), pooled the same way
ENCODERS = ("cnn", "bilstm")


@dataclass
class PairCnnConfig:
    classes: list[str]
    dim_pos: int = 10
    filters: int = 200
    window: int = 3
    dropout: float = 0.5
    threshold: float = 0.5
    #: Platt scaling of ``P(relation)``: ``sigmoid(a * logit(p) + b)`` (fitted on validation data; the
    #: threshold is on this scale)
    calibration: list[float] = field(default_factory=lambda: [1.0, 0.0])
    #: networks in the artifact whose class probabilities are averaged (1: a single model)
    members: int = 1
    #: role-marked pairs (:func:`encode_directed`; ``DRUG1`` = the subject) and whether the object's
    #: marker is its head word; False / False: the symmetric DDI encoding (:func:`encode_pair`)
    directed: bool = False
    object_head: bool = False
    #: weight of this model's class probabilities when averaged with a linear model's (1.0: alone)
    mix_weight: float = 1.0
    #: learn a correction of the frozen word vectors (``delta``, zero at start; only the rows of words met in
    #: training move, and only those rows are stored)
    tune_vectors: bool = False
    #: one of :data:`ENCODERS`
    encoder: str = "cnn"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.encoder not in ENCODERS:
            raise ModelError(f"pair model encoder {self.encoder!r} is not one of {', '.join(ENCODERS)}")
        if self.encoder == "bilstm" and (self.filters < 2 or self.filters % 2):
            raise ModelError(f"a bilstm pair model needs an even number of filters (units in both directions), not {self.filters}")


class WordIndex:
    """Token text -> row of the word-vector table (offset by :data:`N_SPECIAL`; ``UNK`` if none).

    ``words``: the vector table's strings in row order; ``rows``: ``N_SPECIAL + row`` for each.
    Lookups try the exact text, then its lower case, then the text with digits as ``0``.
    """

    def __init__(self, rows: dict[str, int]) -> None:
        self.rows = rows

    def __call__(self, text: str) -> int:
        r = self.rows.get(text)
        if r is None:
            low = text.lower()
            r = self.rows.get(low)
            if r is None:
                r = self.rows.get("".join("0" if c.isdigit() else c for c in low), UNK) if any(c.isdigit() for c in low) else UNK
        return r


def load_vectors(vocab_dir: str | Path) -> tuple[numpy.ndarray, WordIndex, str]:
    """The static word vectors of a spaCy model's ``vocab`` folder: the table (float32, with
    :data:`N_SPECIAL` zero rows first), the word index, and the table's sha256 (its fingerprint)."""
    from spacy.strings import hash_string  # type: ignore[attr-defined]
    from spacy.vectors import Vectors

    vocab_dir = Path(vocab_dir)
    try:
        vec = Vectors().from_disk(vocab_dir)
        strings = json.loads((vocab_dir / "strings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot read word vectors from {vocab_dir}: {err}") from err
    data = numpy.asarray(vec.data, dtype=numpy.float32)
    if data.ndim != 2 or not data.shape[0]:
        raise ModelError(f"{vocab_dir}: the model has no word vectors")
    key2row = {int(k): int(r) for k, r in vec.key2row.items()}
    rows = {s: N_SPECIAL + key2row[h] for s in strings if (h := hash_string(s)) in key2row}
    table = numpy.zeros((N_SPECIAL + data.shape[0], data.shape[1]), dtype=numpy.float32)
    table[N_SPECIAL:] = data
    return table, WordIndex(rows), hashlib.sha256(data.tobytes()).hexdigest()


def encode_pair(texts: Sequence[str], ents: Sequence[EntTuple], a: EntTuple, b: EntTuple, sent: tuple[int, int],
                index: WordIndex) -> tuple[list[int], list[int], list[int], int, int]:
    """The blinded token ids of the ordered pair ``a`` before ``b`` in sentence ``sent``.

    Every mention of the sentence is one token (``DRUG1`` / ``DRUG2`` for the pair, ``DRUG0``
    for the others; the mentions must not overlap). The sequence keeps :data:`CONTEXT`
    tokens either side of the pair and at most :data:`MAX_LENGTH` tokens (cut in the middle of
    the span between the mentions).

    Returns:
        ``(ids, distance to DRUG1, distance to DRUG2, position of DRUG1, position of DRUG2)``,
        the distances clipped to ``[-MAX_POSITION, MAX_POSITION]``.
    """
    s0, s1 = sent
    starts = {e[0]: e[1] for e in ents if s0 <= e[0] and e[1] <= s1}
    starts[a[0]] = a[1]
    starts[b[0]] = b[1]
    ids: list[int] = []
    i = s0
    pa = pb = -1
    while i < s1:
        end = starts.get(i)
        if end is not None and end > i:
            if i == a[0]:
                pa = len(ids)
                ids.append(DRUG1)
            elif i == b[0]:
                pb = len(ids)
                ids.append(DRUG2)
            else:
                ids.append(DRUG0)
            i = end
            continue
        ids.append(index(texts[i]))
        i += 1
    if pa < 0 or pb < 0 or pb <= pa:
        raise ValueError(f"pair ({a[0]}, {b[0]}) is not two ordered mentions of the sentence {sent}")
    lo, hi = max(0, pa - CONTEXT), min(len(ids), pb + CONTEXT + 1)
    keep = list(range(lo, hi))
    if len(keep) > MAX_LENGTH:
        left, mid, right = list(range(lo, pa + 1)), list(range(pa + 1, pb)), list(range(pb, hi))
        budget = MAX_LENGTH - len(left) - len(right)
        if budget < 0:  # the context alone is too long: keep only the mentions and the middle
            left, right, budget = [pa], [pb], MAX_LENGTH - 2
        if len(mid) > budget:
            half = budget // 2
            mid = mid[:half] + mid[len(mid) - (budget - half):]
        keep = left + mid + right
    ids = [ids[k] for k in keep]
    pa, pb = keep.index(pa), keep.index(pb)
    m = MAX_POSITION
    d1 = [max(-m, min(m, k - pa)) for k in range(len(ids))]
    d2 = [max(-m, min(m, k - pb)) for k in range(len(ids))]
    return ids, d1, d2, pa, pb


Encoded = tuple[list[int], list[int], list[int], int, int]


def encode_directed(texts: Sequence[str], ents: Sequence[EntTuple], subj: EntTuple, obj: EntTuple, sent: tuple[int, int],
                    index: WordIndex, object_head: bool = False) -> Encoded:
    """:func:`encode_pair` for a pair of two roles (a chemical and a gene, a drug and a disease):
    ``DRUG1`` always marks ``subj`` and ``DRUG2`` ``obj``, whichever comes first (the distances and
    the pieces stay in text order). With ``object_head`` the object's marker is replaced by the word
    vector of its last token when the vectors know it (``receptor``, ``kinase``, ``CYP3A4``: a gene
    mention's head word carries much of the relation; its distance embeddings still mark it)."""
    first, second = (subj, obj) if subj[0] < obj[0] else (obj, subj)
    ids, d1, d2, pa, pb = encode_pair(texts, ents, first, second, sent, index)
    if first is not subj:
        ids[pa], ids[pb] = DRUG2, DRUG1
    if object_head:
        head = index(texts[obj[1] - 1])
        if head != UNK:
            ids[pb if first is subj else pa] = head
    return ids, d1, d2, pa, pb


def batch_arrays(pairs: Sequence[Encoded]) -> dict[str, numpy.ndarray]:
    """Padded int64 arrays of encoded pairs: ``ids``, ``d1``, ``d2`` (shifted to be >= 0), ``pa``, ``pb``, ``length``."""
    n = len(pairs)
    width = max(len(p[0]) for p in pairs)
    ids = numpy.zeros((n, width), dtype=numpy.int64)
    d1 = numpy.zeros((n, width), dtype=numpy.int64)
    d2 = numpy.zeros((n, width), dtype=numpy.int64)
    for k, (t, x1, x2, _, _) in enumerate(pairs):
        ids[k, : len(t)] = t
        d1[k, : len(t)] = numpy.asarray(x1) + MAX_POSITION + 1  # 0 stays the padding distance
        d2[k, : len(t)] = numpy.asarray(x2) + MAX_POSITION + 1
    return {"ids": ids, "d1": d1, "d2": d2, "pa": numpy.asarray([p[3] for p in pairs], dtype=numpy.int64),
            "pb": numpy.asarray([p[4] for p in pairs], dtype=numpy.int64),
            "length": numpy.asarray([len(p[0]) for p in pairs], dtype=numpy.int64)}


def build_network(config: PairCnnConfig, vectors: numpy.ndarray) -> Any:
    """The torch module (imported lazily: the fast path never loads torch)."""
    import torch
    from torch import nn

    class PairCnn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d_word = vectors.shape[1]
            self.register_buffer("vectors", torch.from_numpy(vectors), persistent=False)
            self.special = nn.Parameter(torch.zeros(N_SPECIAL, d_word))
            if config.tune_vectors:
                self.delta = nn.Parameter(torch.zeros(vectors.shape[0], d_word))
            nn.init.normal_(self.special, std=0.1)
            n_pos = 2 * MAX_POSITION + 2
            self.pos1 = nn.Embedding(n_pos, config.dim_pos, padding_idx=0)
            self.pos2 = nn.Embedding(n_pos, config.dim_pos, padding_idx=0)
            d_in = d_word + 2 * config.dim_pos
            if config.encoder == "bilstm":
                self.lstm = nn.LSTM(d_in, config.filters // 2, batch_first=True, bidirectional=True)
            else:
                self.conv = nn.Conv1d(d_in, config.filters, config.window, padding=config.window // 2)
            self.dropout = nn.Dropout(config.dropout)
            self.out = nn.Linear(5 * config.filters, len(config.classes))

        def forward(self, ids: Any, d1: Any, d2: Any, pa: Any, pb: Any, length: Any) -> Any:
            zero = self.special.new_zeros(1, self.special.shape[1])
            special = torch.cat([zero, self.special[1:], zero])  # PAD (row 0) embeds to zeros, like the conv's own padding
            vectors: Any = self.vectors
            words = nn.functional.embedding(ids, vectors) + nn.functional.embedding(ids.clamp(max=N_SPECIAL), special)
            if config.tune_vectors:  # the special rows (PAD among them) have their own table: no correction there
                words = words + nn.functional.embedding(ids, self.delta) * (ids >= N_SPECIAL).unsqueeze(2)
            x = torch.cat([words, self.pos1(d1), self.pos2(d2)], dim=2)  # padded positions: all zeros
            width = ids.shape[1]
            if config.encoder == "bilstm":  # packed: a pair's states do not depend on the padding of its batch
                packed = nn.utils.rnn.pack_padded_sequence(x, length.cpu(), batch_first=True, enforce_sorted=False)
                out, _ = self.lstm(packed)
                out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=width)
                h = out.transpose(1, 2)  # (n, filters, width), values in (-1, 1)
                floor = -1.0
            else:
                h = torch.relu(self.conv(x.transpose(1, 2)))  # (n, filters, width)
                floor = 0.0
            pos = torch.arange(width, device=ids.device).unsqueeze(0)
            valid = pos < length.unsqueeze(1)
            pieces = ((pos <= pa.unsqueeze(1)) & valid, (pos >= pa.unsqueeze(1)) & (pos <= pb.unsqueeze(1)),
                      (pos >= pb.unsqueeze(1)) & valid)
            # every piece holds a mention; masked positions get the encoder's floor (relu >= 0, lstm > -1)
            pooled = [h.masked_fill(~m.unsqueeze(1), floor).amax(dim=2) for m in pieces]
            at = [h.gather(2, p.view(-1, 1, 1).expand(-1, h.shape[1], 1)).squeeze(2) for p in (pa, pb)]
            return self.out(self.dropout(torch.cat(pooled + at, dim=1)))

    return PairCnn()


class PairCnnModel:
    """A trained :func:`build_network` with its config, ready to score pairs (:meth:`probs`)."""

    def __init__(self, config: PairCnnConfig, network: Any, index: WordIndex, vectors_sha256: str,
                 members: Sequence[Any] = ()) -> None:
        self.config = config
        #: the networks whose class probabilities are averaged (an ensemble of independently seeded trainings);
        #: ``network`` is the first (the one a training run fits)
        self.networks = [network, *members]
        self.network = network
        self.index = index
        self.vectors_sha256 = vectors_sha256
        self.classes = config.classes
        self.threshold = config.threshold
        config.members = len(self.networks)
        for net in self.networks:
            net.eval()

    @classmethod
    def new(cls, config: PairCnnConfig, vocab_dir: str | Path, seed: int = 0) -> "PairCnnModel":
        import torch

        table, index, sha = load_vectors(vocab_dir)
        torch.manual_seed(seed)
        return cls(config, build_network(config, table), index, sha)

    @classmethod
    def ensemble(cls, models: Sequence["PairCnnModel"], config: PairCnnConfig) -> "PairCnnModel":
        """One model averaging the class probabilities of ``models`` (same classes, architecture and word
        vectors; e.g. the same training with different seeds); ``config`` carries the ensemble's own
        threshold and calibration (fitted on the averaged probabilities)."""
        if not models:
            raise ValueError("an ensemble needs at least one model")
        first = models[0]
        for m in models[1:]:
            if m.vectors_sha256 != first.vectors_sha256 or m.classes != first.classes:
                raise ModelError("ensemble members must share their classes and word vectors")
            if any(getattr(m.config, k) != getattr(first.config, k) for k in ARCHITECTURE):
                raise ModelError(f"ensemble members must share their architecture and encoding ({', '.join(ARCHITECTURE)})")
        for k in ARCHITECTURE:  # the members' encoding is the ensemble's
            setattr(config, k, getattr(first.config, k))
        nets = [net for m in models for net in m.networks]
        return cls(config, nets[0], first.index, first.vectors_sha256, members=nets[1:])

    def encode(self, texts: Sequence[str], ents: Sequence[EntTuple], a: EntTuple, b: EntTuple, sent: tuple[int, int]) -> Encoded:
        """The pair as the model reads it: ``a`` before ``b`` (symmetric models), or ``a`` the subject and
        ``b`` the object in any order (``config.directed``)."""
        if self.config.directed:
            return encode_directed(texts, ents, a, b, sent, self.index, self.config.object_head)
        return encode_pair(texts, ents, a, b, sent, self.index)

    def logits(self, pairs: Sequence[Encoded], chunk: int = 32) -> numpy.ndarray:
        """Class log-probabilities (log of :meth:`probs`), one row per pair."""
        return numpy.log(numpy.maximum(self.probs(pairs, chunk), 1e-30)).astype(numpy.float32)

    def probs(self, pairs: Sequence[Encoded], chunk: int = 32) -> numpy.ndarray:
        """Class probabilities, one row per pair (columns: :attr:`classes`): the mean over the
        :attr:`networks` of their softmax. Pairs of similar length are run together (``chunk`` at a
        time), so little is spent on padding."""
        import torch

        out = numpy.zeros((len(pairs), len(self.classes)), dtype=numpy.float64)
        order = sorted(range(len(pairs)), key=lambda k: len(pairs[k][0]))
        with torch.inference_mode():
            for k in range(0, len(order), chunk):
                idx = order[k : k + chunk]
                arrays = {n: torch.from_numpy(v) for n, v in batch_arrays([pairs[i] for i in idx]).items()}
                acc = torch.softmax(self.networks[0](**arrays).double(), dim=1)
                for net in self.networks[1:]:
                    acc += torch.softmax(net(**arrays).double(), dim=1)
                out[idx] = (acc / len(self.networks)).numpy()
        return out

    def relation_probs(self, probs: numpy.ndarray, linear: numpy.ndarray | None = None) -> numpy.ndarray:
        """Calibrated ``P(relation) = 1 - P(none)`` of :meth:`probs` rows; with ``linear`` (a linear
        model's ``P(relation)`` of the same pairs) and ``config.mix_weight < 1``, the calibrated
        ``mix_weight (1 - P(none)) + (1 - mix_weight) linear``."""
        if self.config.mix_weight < 1.0 and linear is None:
            raise ModelError("this pair model decides together with a linear model: pass its P(relation)")
        return calibrate(mixed_relation(probs, linear, self.config.mix_weight), self.config.calibration)

    def fitted_with(self, linear_path: str | Path) -> bool:
        """Whether ``linear_path`` is the linear model this one was fitted with (``meta["linear_sha256"]``)."""
        return Path(linear_path).is_file() and self.config.meta.get("linear_sha256") == file_sha256(linear_path)

    def decide(self, pairs: Sequence[Encoded], linear: numpy.ndarray | None = None) -> list[tuple[float, str]]:
        """``(calibrated P(relation), most probable type)`` per pair (``linear``: see :meth:`relation_probs`)."""
        p = self.probs(pairs)
        rel = self.relation_probs(p, linear)
        return [(float(r), self.classes[1 + int(numpy.argmax(row[1:]))]) for r, row in zip(rel, p)]

    def save(self, path: str | Path) -> None:
        """``path`` (``.pt``: the state dict) and ``path`` + ``.json`` (config, fingerprints, metrics)."""
        import torch

        path = Path(path)
        if len(self.networks) == 1:
            state = _sparse_delta({k: v.detach().clone() for k, v in self.network.state_dict().items()})
        else:  # member m's tensors under "m{m}."
            state = {f"m{m}.{k}": v for m, net in enumerate(self.networks)
                     for k, v in _sparse_delta({k: v.detach().clone() for k, v in net.state_dict().items()}).items()}
        torch.save(state, path)
        side = {"format": "medkg.pair_cnn", "version": ARTIFACT_VERSION, "config": asdict(self.config),
                "vectors_sha256": self.vectors_sha256,
                "state_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        Path(str(path) + ".json").write_text(json.dumps(side, indent=1, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, vocab_dir: str | Path) -> "PairCnnModel":
        """Load a saved model; ``vocab_dir``: the NER model's ``vocab`` folder (its word vectors).

        Raises:
            ModelError: a missing or altered file, or word vectors other than the training ones.
        """
        import torch

        path = Path(path)
        try:
            side = json.loads(Path(str(path) + ".json").read_text(encoding="utf-8"))
            raw = path.read_bytes()
        except (OSError, ValueError) as err:
            raise ModelError(f"cannot load relation model {path}: {err}; retrain with python -m ingest.text.pair_cnn_training") from err
        if side.get("format") != "medkg.pair_cnn":
            raise ModelError(f"{path}.json is not a medkg pair CNN model (format {side.get('format')!r})")
        if side.get("state_sha256") != hashlib.sha256(raw).hexdigest():
            raise ModelError(f"{path}: its weights do not match the checksum in {path}.json (altered or truncated file)")
        cfg = side["config"]
        config = PairCnnConfig(**{k: cfg[k] for k in ("classes", "dim_pos", "filters", "window", "dropout", "threshold", "calibration", "members", "directed",
                                                      "object_head", "mix_weight", "tune_vectors", "encoder", "meta")
                                  if k in cfg})
        table, index, sha = load_vectors(vocab_dir)
        if sha != side.get("vectors_sha256"):
            raise ModelError(f"{path} was trained with other word vectors than those in {vocab_dir}; retrain it "
                             "(python -m ingest.text.pair_cnn_training) after changing the NER model")
        import io

        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        k = config.members
        if k < 1:
            raise ModelError(f"{path}.json: members must be >= 1, not {k}")
        parts = [state] if k == 1 else [{n[len(f"m{m}."):]: v for n, v in state.items() if n.startswith(f"m{m}.")} for m in range(k)]
        networks = [build_network(config, table) for _ in range(k)]
        try:
            for network, part in zip(networks, parts):
                network.load_state_dict(_dense_delta(part, table.shape))
        except (RuntimeError, KeyError) as err:
            raise ModelError(f"{path}: weights do not fit its config: {err}") from err
        return cls(config, networks[0], index, sha, members=networks[1:])


def _sparse_delta(state: dict[str, Any]) -> dict[str, Any]:
    """A state dict with a tuned-vectors ``delta`` stored as its non-zero rows (``delta_rows``, ``delta_values``)."""
    if "delta" not in state:
        return state
    import torch

    delta = state.pop("delta")
    rows = torch.nonzero(delta.abs().sum(dim=1) > 0).flatten()
    state["delta_rows"], state["delta_values"] = rows.to(torch.int64), delta[rows].clone()
    return state


def _dense_delta(state: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    """The inverse of :func:`_sparse_delta` for a vector table of ``shape``."""
    if "delta_rows" not in state:
        return state
    import torch

    state = dict(state)
    rows, values = state.pop("delta_rows"), state.pop("delta_values")
    if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= shape[0]):
        raise KeyError("delta_rows outside the word-vector table")
    delta = torch.zeros(shape, dtype=values.dtype)
    delta[rows] = values
    state["delta"] = delta
    return state


def mixed_relation(probs: numpy.ndarray, linear: numpy.ndarray | None, weight: float) -> numpy.ndarray:
    """Raw ``P(relation)`` of class-probability rows: ``weight (1 - P(none)) + (1 - weight) linear``
    (``1 - P(none)`` without ``linear`` or at ``weight`` 1)."""
    raw = 1.0 - probs[:, 0]
    if linear is None or weight >= 1.0:
        return raw
    return weight * raw + (1.0 - weight) * numpy.asarray(linear, dtype=numpy.float64)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (which linear model a neural one was fitted with)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def calibrate(p: numpy.ndarray, calibration: Sequence[float]) -> numpy.ndarray:
    """``sigmoid(a * logit(p) + b)`` with ``calibration = (a, b)`` (``(1, 0)``: ``p`` itself)."""
    a, b = calibration
    if a == 1.0 and b == 0.0:
        return p
    q = numpy.clip(p, 1e-6, 1 - 1e-6)
    return 1.0 / (1.0 + numpy.exp(-(a * numpy.log(q / (1 - q)) + b)))


def same_name(texts: Sequence[str], a: EntTuple, b: EntTuple) -> bool:
    """Whether two mentions are the same name (case-insensitive): never an interaction
    (the negative-instance filter of the DDI literature)."""
    return a[1] - a[0] == b[1] - b[0] and all(texts[i].lower() == texts[j].lower() for i, j in zip(range(a[0], a[1]), range(b[0], b[1])))


def iter_batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for k in range(0, len(items), size):
        yield items[k : k + size]
