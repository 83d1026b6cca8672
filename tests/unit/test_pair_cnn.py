"""The neural INTERACTS_WITH pair model: blinded pair encoding, artifact round trip, seeded training (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy
import pytest

from graph_engine.errors import ModelError
from ingest.text.components.pair_cnn import (
    CONTEXT, DRUG0, DRUG1, DRUG2, MAX_LENGTH, MAX_POSITION, N_SPECIAL, UNK, PairCnnConfig, PairCnnModel, WordIndex,
    batch_arrays, encode_pair, load_vectors, same_name,
)

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")

WORDS = ["increases", "the", "levels", "of", "and", "inhibits", "with", "no", "effect", "0.5", "mg"]


def _vocab(path: Path, words: list[str] = WORDS, seed: int = 0) -> Path:
    """A spaCy ``vocab`` folder with word vectors for ``words`` (as the NER model ships them)."""
    from spacy.strings import hash_string
    from spacy.vectors import Vectors

    rng = numpy.random.RandomState(seed)
    vec = Vectors(shape=(len(words), 8))
    for w in words:
        vec.add(hash_string(w), vector=rng.normal(size=8).astype("float32"))
    path.mkdir(parents=True, exist_ok=True)
    vec.to_disk(path)
    (path / "strings.json").write_text(json.dumps(words + ["unrelated"]))
    return path


def _index(words: list[str] = WORDS) -> WordIndex:
    return WordIndex({w: N_SPECIAL + k for k, w in enumerate(words)})


# --------------------------------------------------------------------------- encoding


def test_the_pair_is_blinded_and_other_mentions_become_drug0() -> None:
    #        0          1          2    3        4    5         6          7     8
    texts = ["Warfarin", "increases", "the", "levels", "of", "St", "John's", "wort", "and"]
    texts += ["digoxin", "."]  # 9, 10
    ents = [(0, 1, "Drug", "a"), (5, 8, "Drug", "b"), (9, 10, "Drug", "c")]
    ids, d1, d2, pa, pb = encode_pair(texts, ents, ents[0], ents[2], (0, 11), _index())
    ix = _index()
    # the three-token mention is one DRUG0 token, the pair DRUG1 / DRUG2
    assert ids == [DRUG1, ix("increases"), ix("the"), ix("levels"), ix("of"), DRUG0, ix("and"), DRUG2, UNK]
    assert (pa, pb) == (0, 7)
    assert d1 == list(range(9))
    assert d2 == [k - 7 for k in range(9)]


def test_context_is_cut_and_long_middles_keep_both_ends() -> None:
    texts = ["the"] * 30 + ["A"] + ["of"] * 200 + ["B"] + ["and"] * 30
    a, b = (30, 31, "Drug", "a"), (231, 232, "Drug", "b")
    ids, d1, d2, pa, pb = encode_pair(texts, [a, b], a, b, (0, len(texts)), _index())
    assert len(ids) == MAX_LENGTH
    assert (ids[pa], ids[pb]) == (DRUG1, DRUG2)
    assert pa == CONTEXT and len(ids) - 1 - pb == CONTEXT  # the context either side survives
    assert d1[pa] == 0 and d2[pb] == 0
    assert max(d1) == MAX_POSITION and min(d2) == -MAX_POSITION  # clipped distances
    # a short pair keeps its whole sentence up to CONTEXT tokens away
    ids2, *_ = encode_pair(texts, [a, b], a, (40, 41, "Drug", "c"), (0, len(texts)), _index())
    assert len(ids2) == CONTEXT + 11 + CONTEXT


def test_a_pair_that_is_not_two_ordered_mentions_is_refused() -> None:
    texts = ["a", "b", "c"]
    with pytest.raises(ValueError):
        encode_pair(texts, [], (2, 3, "Drug", "x"), (0, 1, "Drug", "y"), (0, 3), _index())


def test_word_index_tries_exact_then_lower_then_digits() -> None:
    ix = WordIndex({"Ca": 7, "mg": 8, "0.0": 9})
    assert ix("Ca") == 7 and ix("MG") == 8 and ix("2.5") == 9 and ix("zzz") == UNK


def test_same_name_is_case_insensitive_and_token_exact() -> None:
    texts = ["Aspirin", "and", "aspirin", "or", "aspirin", "tablets"]
    assert same_name(texts, (0, 1, "Drug", ""), (2, 3, "Drug", ""))
    assert not same_name(texts, (0, 1, "Drug", ""), (4, 6, "Drug", ""))


def test_batch_arrays_pad_and_shift_distances() -> None:
    arr = batch_arrays([([3, 5, 4], [0, 1, 2], [-2, -1, 0], 0, 2), ([3, 4], [0, 1], [-1, 0], 0, 1)])
    assert arr["ids"].tolist() == [[3, 5, 4], [3, 4, 0]]
    assert arr["d1"][1].tolist() == [MAX_POSITION + 1, MAX_POSITION + 2, 0]  # 0: padding
    assert arr["length"].tolist() == [3, 2]


# --------------------------------------------------------------------------- artifact


def _model(tmp_path: Path, seed: int = 0, dropout: float = 0.5) -> PairCnnModel:
    return PairCnnModel.new(PairCnnConfig(classes=["none", "mechanism", "effect"], filters=12, dim_pos=3, threshold=0.4, dropout=dropout),
                            _vocab(tmp_path / "vocab"), seed=seed)


def _pairs(model: PairCnnModel) -> list:
    texts = ["X", "increases", "the", "levels", "of", "Y", "and", "Z"]
    ents = [(0, 1, "Drug", ""), (5, 6, "Drug", ""), (7, 8, "Drug", "")]
    return [model.encode(texts, ents, ents[0], ents[1], (0, 8)), model.encode(texts, ents, ents[1], ents[2], (0, 8))]


def test_load_vectors_puts_special_rows_first(tmp_path: Path) -> None:
    table, index, sha = load_vectors(_vocab(tmp_path / "v"))
    assert table.shape == (N_SPECIAL + len(WORDS), 8)
    assert not table[:N_SPECIAL].any()
    assert index("inhibits") == N_SPECIAL + WORDS.index("inhibits") and index("unrelated") == UNK
    assert sha != load_vectors(_vocab(tmp_path / "w", seed=1))[2]


def test_artifact_round_trip(tmp_path: Path) -> None:
    model = _model(tmp_path)
    with torch.no_grad():
        model.network.out.bias.copy_(torch.tensor([0.0, 1.0, -1.0]))
    before = model.probs(_pairs(model))
    path = tmp_path / "m.pt"
    model.save(path)
    loaded = PairCnnModel.load(path, tmp_path / "vocab")
    assert numpy.allclose(loaded.probs(_pairs(loaded)), before)
    assert loaded.threshold == 0.4 and loaded.classes == ["none", "mechanism", "effect"]
    side = json.loads(Path(str(path) + ".json").read_text())
    assert side["format"] == "medkg.pair_cnn" and side["vectors_sha256"] == model.vectors_sha256
    # the frozen word vectors are not in the file
    assert not any("vectors" in k for k in torch.load(path, weights_only=True))


def test_an_altered_artifact_or_other_vectors_are_refused(tmp_path: Path) -> None:
    model = _model(tmp_path)
    path = tmp_path / "m.pt"
    model.save(path)
    with pytest.raises(ModelError, match="other word vectors"):
        PairCnnModel.load(path, _vocab(tmp_path / "other", seed=3))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ModelError, match="checksum"):
        PairCnnModel.load(path, tmp_path / "vocab")
    with pytest.raises(ModelError, match="cannot load"):
        PairCnnModel.load(tmp_path / "missing.pt", tmp_path / "vocab")


# --------------------------------------------------------------------------- training


def _toy_data(model: PairCnnModel, n: int = 120) -> tuple[list, list]:
    """Pairs whose class is the verb between them: learnable from the words alone."""
    rng = numpy.random.RandomState(0)
    xs, ys = [], []
    for _ in range(n):
        k = int(rng.randint(3))
        verb = ["with", "increases", "inhibits"][k]
        texts = ["the"] * int(rng.randint(0, 3)) + ["X", verb, "the", "Y", "."]
        a = texts.index("X")
        xs.append(model.encode(texts, [], (a, a + 1, "Drug", ""), (a + 3, a + 4, "Drug", ""), (0, len(texts))))
        ys.append(k)
    return xs, ys


def test_training_is_deterministic_with_a_seed_and_learns(tmp_path: Path) -> None:
    from ingest.text.pair_cnn_training import predict, train

    states = []
    for _ in range(2):
        model = _model(tmp_path, seed=5, dropout=0.1)
        xs, ys = _toy_data(model)
        run = train(model, xs, ys, xs, ys, epochs=8, batch=16, lr=0.02, seed=5, log=lambda _: None)
        states.append({k: v.clone() for k, v in model.network.state_dict().items()})
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    probs = predict(model, xs)
    assert (probs.argmax(axis=1) == numpy.asarray(ys)).mean() > 0.9
    assert run["history"][-1]["validation"]["f1"] > 0.9
    assert model.threshold == run["threshold"]


def test_a_different_seed_gives_different_weights(tmp_path: Path) -> None:
    a, b = _model(tmp_path, seed=1), _model(tmp_path, seed=2)
    assert not torch.equal(a.network.conv.weight, b.network.conv.weight)


# --------------------------------------------------------------------------- in the relation step


def test_the_extractor_takes_interactions_and_types_from_the_neural_model(tmp_path: Path) -> None:
    from ingest.text.components.cache import set_ents
    from ingest.text.components.relations import LinearModel, RelationExtractor
    from ingest.text.corpora import blank_pipeline
    from ingest.text.pipeline import doc_records
    from ingest.text.records import Document

    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    nlp.add_pipe("medkg_negation_v1")
    doc = nlp("Warfarin increases the levels of digoxin and warfarin.")
    set_ents(doc, [(0, 1, "Drug", ""), (5, 6, "Drug", ""), (7, 8, "Drug", "")])
    model = _model(tmp_path)
    with torch.no_grad():  # P(none) tiny, "effect" most likely: every pair interacts, as effect
        model.network.out.weight.zero_()
        model.network.out.bias.copy_(torch.tensor([-5.0, 0.0, 2.0]))
    never = LinearModel({}, -5.0)  # the linear model would find nothing
    ext = RelationExtractor({"INTERACTS_WITH": never})

    def rels() -> list:
        ext(doc)
        return [(r.subject_text, r.object_text, r.interaction_type, r.score)
                for r in doc_records(doc, Document(id="d", text=doc.text)).relations]

    assert rels() == []
    ext.use_neural(model)
    found = rels()
    # Warfarin / warfarin is one name: never a pair; the other two pairs interact as "effect"
    assert sorted(f[:3] for f in found) == [("Warfarin", "digoxin", "effect"), ("digoxin", "warfarin", "effect")]
    assert all(abs(f[3] - (1 - model.probs(_pairs(model))[0][0])) < 1e-3 for f in found)
    with torch.no_grad():  # below the model's own threshold: nothing
        model.network.out.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))
    assert rels() == []
    ext.use_neural(None)
    assert rels() == []


DDI_XML = """<?xml version="1.0"?>
<document id="DDI-DrugBank.d1">
 <sentence id="DDI-DrugBank.d1.s0" text="Aspirin increases the effect of warfarin and aspirin.">
  <entity id="e0" charOffset="0-6" type="drug" text="Aspirin"/>
  <entity id="e1" charOffset="32-39" type="drug" text="warfarin"/>
  <entity id="e2" charOffset="45-51" type="drug" text="aspirin"/>
  <pair id="p0" e1="e0" e2="e1" ddi="true" type="{kind}"/>
  <pair id="p1" e1="e0" e2="e2" ddi="false"/>
  <pair id="p2" e1="e1" e2="e2" ddi="false"/>
 </sentence>
</document>
"""


def test_ddi_instances_are_typed_and_drop_same_name_pairs(tmp_path: Path) -> None:
    from graph_engine.errors import IngestError
    from ingest.text.pair_cnn_training import DDI_CLASSES, ddi_instances

    f = tmp_path / "d1.xml"
    f.write_text(DDI_XML.format(kind="effect"))
    inst = ddi_instances([f])
    # Aspirin / aspirin is one name: left out; the other two pairs keep their labels
    assert [(t[a[0]], t[b[0]], DDI_CLASSES[y]) for t, _, a, b, _, y in inst] == [("Aspirin", "warfarin", "effect"), ("warfarin", "aspirin", "none")]
    assert all(len(ents) == 3 for _, ents, *_ in inst)
    f.write_text(DDI_XML.format(kind="synergy"))
    with pytest.raises(IngestError, match="p0.*synergy"):
        ddi_instances([f])
    f.write_text(DDI_XML[:200])
    with pytest.raises(IngestError, match="broken DDI XML"):
        ddi_instances([f])


def test_platt_scaling_recovers_a_known_miscalibration() -> None:
    from ingest.text.components.pair_cnn import calibrate
    from ingest.text.pair_cnn_training import cross_fitted, fit_calibration

    rng = numpy.random.RandomState(0)
    z = rng.normal(scale=2.0, size=4000)
    y = (rng.uniform(size=z.size) < 1 / (1 + numpy.exp(-z))).astype(int)  # true P = sigmoid(z)
    p_over = 1 / (1 + numpy.exp(-3.0 * z))  # a model three times too confident
    a, b = fit_calibration(p_over, y)
    assert abs(a - 1 / 3) < 0.05 and abs(b) < 0.1
    fixed = calibrate(p_over, [a, b])
    assert numpy.allclose(fixed, 1 / (1 + numpy.exp(-z)), atol=0.03)
    assert calibrate(p_over, [1.0, 0.0]) is p_over
    # calibration is monotone: the ranking (and so a mapped threshold) is unchanged
    order = numpy.argsort(p_over)
    assert (numpy.diff(fixed[order]) >= -1e-12).all()
    honest = cross_fitted(p_over, y, numpy.arange(z.size))
    assert numpy.allclose(honest, fixed, atol=0.03)


def test_calibration_travels_with_the_artifact(tmp_path: Path) -> None:
    model = _model(tmp_path)
    model.config.calibration = [0.5, -0.25]
    raw = 1 - model.probs(_pairs(model))[:, 0]
    model.save(tmp_path / "m.pt")
    loaded = PairCnnModel.load(tmp_path / "m.pt", tmp_path / "vocab")
    q = raw / (1 - raw)
    expected = 1 / (1 + numpy.exp(-(0.5 * numpy.log(q) - 0.25)))
    assert numpy.allclose([p for p, _ in loaded.decide(_pairs(loaded))], expected, atol=1e-5)


def test_batched_scores_equal_one_pair_at_a_time(tmp_path: Path) -> None:
    model = _model(tmp_path)
    texts = ["X", "increases", "the", "levels", "of", "Y"] + ["and"] * 20 + ["Z", "."]
    ents = [(0, 1, "Drug", ""), (5, 6, "Drug", ""), (26, 27, "Drug", "")]
    pairs = [model.encode(texts, ents, a, b, (0, len(texts))) for a, b in ((ents[0], ents[2]), (ents[0], ents[1]), (ents[1], ents[2]))] * 3
    together = model.probs(pairs)
    alone = numpy.concatenate([model.probs([p]) for p in pairs])
    assert numpy.allclose(together, alone, atol=1e-6)
    assert numpy.allclose(model.logits(pairs, chunk=2), model.logits(pairs, chunk=100), atol=1e-6)


# --------------------------------------------------------------------------- ensembles


def _softmax_rows(net, model: PairCnnModel, pairs: list) -> numpy.ndarray:
    """One network's class probabilities, computed here from its raw outputs (independent of ``probs``)."""
    from ingest.text.components.pair_cnn import batch_arrays

    with torch.no_grad():
        z = net(**{k: torch.from_numpy(v) for k, v in batch_arrays(pairs).items()}).double().numpy()
    e = numpy.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_an_ensemble_averages_its_members_probabilities(tmp_path: Path) -> None:
    members = [_model(tmp_path, seed=s) for s in (1, 2, 3)]
    with torch.no_grad():  # members that disagree: a plain average differs from any one of them
        for k, m in enumerate(members):
            m.network.out.bias.copy_(torch.tensor([0.0, 2.0 * k, -1.0 * k]))
    config = PairCnnConfig(classes=["none", "mechanism", "effect"], filters=12, dim_pos=3, threshold=0.3)
    ens = PairCnnModel.ensemble(members, config)
    pairs = _pairs(ens)
    expected = numpy.mean([_softmax_rows(m.network, m, pairs) for m in members], axis=0)
    got = ens.probs(pairs)
    assert numpy.allclose(got, expected, atol=1e-12)
    assert not numpy.allclose(got, members[0].probs(pairs), atol=1e-3)
    assert numpy.allclose(got.sum(axis=1), 1.0) and config.members == 3 and ens.threshold == 0.3
    assert numpy.allclose(ens.logits(pairs), numpy.log(got), atol=1e-5)


def test_an_ensemble_round_trips_and_a_single_model_file_is_unchanged(tmp_path: Path) -> None:
    members = [_model(tmp_path, seed=s) for s in (4, 5)]
    ens = PairCnnModel.ensemble(members, PairCnnConfig(classes=["none", "mechanism", "effect"], filters=12, dim_pos=3))
    before = ens.probs(_pairs(ens))
    ens.save(tmp_path / "e.pt")
    loaded = PairCnnModel.load(tmp_path / "e.pt", tmp_path / "vocab")
    assert len(loaded.networks) == 2 and loaded.config.members == 2
    assert numpy.array_equal(loaded.probs(_pairs(loaded)), before)
    keys = torch.load(tmp_path / "e.pt", weights_only=True).keys()
    assert {k.split(".")[0] for k in keys} == {"m0", "m1"}
    # a single model keeps the unprefixed layout the 0.3.0 artifact has
    members[0].save(tmp_path / "one.pt")
    assert not any(k.startswith("m0.") for k in torch.load(tmp_path / "one.pt", weights_only=True))
    assert json.loads((tmp_path / "one.pt.json").read_text())["config"]["members"] == 1


def test_an_ensemble_refuses_mismatched_members_and_a_bad_member_count(tmp_path: Path) -> None:
    a = _model(tmp_path, seed=1)
    other = PairCnnModel.new(PairCnnConfig(classes=["none", "mechanism", "effect"], filters=12, dim_pos=3),
                             _vocab(tmp_path / "other", seed=9), seed=1)
    wider = PairCnnModel.new(PairCnnConfig(classes=["none", "mechanism", "effect"], filters=16, dim_pos=3), tmp_path / "vocab", seed=1)
    config = PairCnnConfig(classes=["none", "mechanism", "effect"], filters=12, dim_pos=3)
    with pytest.raises(ModelError, match="word vectors"):
        PairCnnModel.ensemble([a, other], config)
    with pytest.raises(ModelError, match="architecture"):
        PairCnnModel.ensemble([a, wider], config)
    with pytest.raises(ValueError, match="at least one"):
        PairCnnModel.ensemble([], config)
    a.save(tmp_path / "a.pt")
    side = json.loads((tmp_path / "a.pt.json").read_text())
    side["config"]["members"] = 0
    (tmp_path / "a.pt.json").write_text(json.dumps(side))
    with pytest.raises(ModelError, match="members"):
        PairCnnModel.load(tmp_path / "a.pt", tmp_path / "vocab")


# --------------------------------------------------------------------------- directed pairs (TARGETS companion)


def test_directed_encoding_marks_the_subject_whatever_the_order_and_can_use_the_object_head() -> None:
    from ingest.text.components.pair_cnn import encode_directed

    index = _index(WORDS + ["receptor"])
    texts = ["the", "levels", "receptor", "inhibits", "X", "."]
    chem, gene = (4, 5, "Drug", ""), (1, 3, "Gene", "")  # the gene ("levels receptor") comes first
    ids, d1, d2, pa, pb = encode_directed(texts, [chem, gene], chem, gene, (0, 6), index)
    sym = encode_pair(texts, [chem, gene], gene, chem, (0, 6), index)
    assert (pa, pb) == (sym[3], sym[4]) and d1 == sym[1] and d2 == sym[2]  # positions in text order
    assert ids[pa] == DRUG2 and ids[pb] == DRUG1  # the chemical is DRUG1 although it comes second
    assert [t for k, t in enumerate(ids) if k not in (pa, pb)] == [t for k, t in enumerate(sym[0]) if k not in (pa, pb)]
    head = encode_directed(texts, [chem, gene], chem, gene, (0, 6), index, object_head=True)[0]
    assert head[pa] == index("receptor") and head[pb] == DRUG1
    # an object head the vectors do not know keeps the marker
    texts2 = ["the", "levels", "zzz", "inhibits", "X", "."]
    assert encode_directed(texts2, [chem, gene], chem, gene, (0, 6), index, object_head=True)[0][pa] == DRUG2
    # in text order the subject first: the plain encoding
    a, b = (0, 1, "Drug", ""), (2, 3, "Gene", "")
    t3 = ["X", "inhibits", "Y"]
    assert encode_directed(t3, [a, b], a, b, (0, 3), index) == encode_pair(t3, [a, b], a, b, (0, 3), index)


def test_a_directed_model_encodes_through_its_config_and_round_trips(tmp_path: Path) -> None:
    cfg = PairCnnConfig(classes=["none", "inhibitor"], filters=12, dim_pos=3, directed=True, object_head=True, mix_weight=0.3)
    model = PairCnnModel.new(cfg, _vocab(tmp_path / "vocab", WORDS + ["receptor"]))
    texts = ["receptor", "inhibits", "X"]
    chem, gene = (2, 3, "Drug", ""), (0, 1, "Gene", "")
    ids = model.encode(texts, [chem, gene], chem, gene, (0, 3))[0]
    assert ids[2] == DRUG1 and ids[0] == model.index("receptor")
    model.save(tmp_path / "d.pt")
    back = PairCnnModel.load(tmp_path / "d.pt", tmp_path / "vocab")
    assert back.config.directed and back.config.object_head and back.config.mix_weight == 0.3
    assert back.encode(texts, [chem, gene], chem, gene, (0, 3)) == model.encode(texts, [chem, gene], chem, gene, (0, 3))
    plain = PairCnnModel.new(PairCnnConfig(classes=["none", "inhibitor"], filters=12, dim_pos=3), tmp_path / "vocab")
    with pytest.raises(ModelError, match="encoding"):
        PairCnnModel.ensemble([model, plain], PairCnnConfig(classes=["none", "inhibitor"]))


# --------------------------------------------------------------------------- deciding together with the linear model


def test_relation_probs_mix_the_linear_model_before_calibrating(tmp_path: Path) -> None:
    from ingest.text.components.pair_cnn import calibrate

    model = _model(tmp_path)
    probs = model.probs(_pairs(model))
    lin = numpy.asarray([0.9, 0.05])
    assert numpy.allclose(model.relation_probs(probs, lin), 1 - probs[:, 0])  # mix_weight 1: the linear model is ignored
    model.config.mix_weight, model.config.calibration = 0.7, [0.8, 0.1]
    want = calibrate(0.7 * (1 - probs[:, 0]) + 0.3 * lin, [0.8, 0.1])
    assert numpy.allclose(model.relation_probs(probs, lin), want)
    assert numpy.allclose([p for p, _ in model.decide(_pairs(model), lin)], want)
    with pytest.raises(ModelError, match="linear model"):
        model.relation_probs(probs)


def test_the_extractor_mixes_the_linear_interaction_model_as_training_did(tmp_path: Path) -> None:
    from ingest.text.components.cache import set_ents, token_texts
    from ingest.text.components.relations import LinearModel, RelationExtractor
    from ingest.text.corpora import blank_pipeline
    from ingest.text.pair_cnn_training import linear_relation_probs, mixed_relation
    from ingest.text.pipeline import doc_records
    from ingest.text.records import Document

    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    nlp.add_pipe("medkg_negation_v1")
    doc = nlp("Warfarin increases the levels of Digoxin and aspirin.")
    drugs = [(0, 1, "Drug", ""), (5, 6, "Drug", ""), (7, 8, "Drug", "")]
    set_ents(doc, drugs)
    model = _model(tmp_path)
    with torch.no_grad():  # the CNN alone: P(relation) = 1 - softmax(bias)[0] = 0.5 for every pair
        model.network.out.weight.zero_()
        model.network.out.bias.copy_(torch.tensor([0.0, -30.0, 0.0]))
    model.config.mix_weight, model.threshold = 0.5, 0.6
    linear = LinearModel({"b=increases": 3.0, "b=the": 0.0}, -1.0)  # "increases" between the two: likely
    ext = RelationExtractor({"INTERACTS_WITH": linear})
    ext.use_neural(model)
    ext(doc)
    got = {(r.subject_text, r.object_text): r.score for r in doc_records(doc, Document(id="d", text=doc.text)).relations}
    # the score the training computes for the same pairs (its instances: token texts, the Drug mentions, the pair)
    texts = token_texts(doc)
    inst = [(texts, drugs, a, b, (0, len(texts)), 0) for a, b in ((drugs[0], drugs[1]), (drugs[0], drugs[2]), (drugs[1], drugs[2]))]
    lin = linear_relation_probs(linear, inst)
    want = mixed_relation(numpy.tile([0.5, 0.0, 0.5], (3, 1)), lin, 0.5)
    kept = {(texts[a[0]], texts[b[0]]): w for (_, _, a, b, _, _), w in zip(inst, want) if w >= 0.6}
    assert kept and len(kept) < 3  # the linear model moves some pairs above the threshold, not all
    assert got.keys() == kept.keys() and all(abs(got[k] - kept[k]) < 1e-3 for k in kept)


# --------------------------------------------------------------------------- tuned word vectors


def test_tuned_vectors_move_only_the_rows_met_and_store_only_those(tmp_path: Path) -> None:
    from ingest.text.pair_cnn_training import train

    cfg = PairCnnConfig(classes=["none", "mechanism", "effect"], filters=12, dim_pos=3, dropout=0.1, tune_vectors=True)
    model = PairCnnModel.new(cfg, _vocab(tmp_path / "vocab"), seed=3)
    xs, ys = _toy_data(model)
    train(model, xs, ys, xs, ys, epochs=4, batch=16, lr=0.02, seed=3, log=lambda _: None)
    delta = model.network.delta.detach()
    moved = set(torch.nonzero(delta.abs().sum(dim=1) > 0).flatten().tolist())
    met = {i for x in xs for i in x[0] if i >= N_SPECIAL}
    assert moved and moved <= met  # words never met (e.g. "levels"... ) keep their vectors; no special row moves
    assert not delta[:N_SPECIAL].any()
    model.save(tmp_path / "t.pt")
    state = torch.load(tmp_path / "t.pt", weights_only=True)
    assert "delta" not in state and state["delta_rows"].numel() == len(moved)
    back = PairCnnModel.load(tmp_path / "t.pt", tmp_path / "vocab")
    assert back.config.tune_vectors and torch.equal(back.network.delta, model.network.delta)
    assert numpy.array_equal(back.probs(xs[:5]), model.probs(xs[:5]))
    # padding does not change a tuned model's scores either
    assert numpy.allclose(model.probs(xs[:6]), numpy.concatenate([model.probs([x]) for x in xs[:6]]), atol=1e-6)
    plain = PairCnnModel.new(PairCnnConfig(classes=["none", "mechanism", "effect"], filters=12, dim_pos=3), tmp_path / "vocab")
    with pytest.raises(ModelError, match="tune_vectors"):
        PairCnnModel.ensemble([model, plain], PairCnnConfig(classes=["none", "mechanism", "effect"]))


# --------------------------------------------------------------------------- the bilstm encoder


def _lstm_model(tmp_path: Path, seed: int = 0, dropout: float = 0.1) -> PairCnnModel:
    return PairCnnModel.new(PairCnnConfig(classes=["none", "mechanism", "effect"], filters=12, dim_pos=3, dropout=dropout,
                                          encoder="bilstm"), _vocab(tmp_path / "vocab"), seed=seed)


def test_a_bilstm_pair_model_learns_is_batch_independent_and_round_trips(tmp_path: Path) -> None:
    from ingest.text.pair_cnn_training import predict, train

    model = _lstm_model(tmp_path, seed=3)
    assert not hasattr(model.network, "conv") and model.network.lstm.hidden_size == 6 and model.network.lstm.bidirectional
    xs, ys = _toy_data(model)
    run = train(model, xs, ys, xs, ys, epochs=4, batch=16, lr=0.02, seed=3, log=lambda _: None)
    assert run["history"][-1]["loss"] < 0.5 * run["history"][0]["loss"]
    p_rel, gold = 1.0 - predict(model, xs)[:, 0], numpy.asarray(ys)
    assert p_rel[gold > 0].min() > p_rel[gold == 0].max()  # the kept epoch separates relations from none
    # packed sequences: a pair scores the same alone and next to a much longer one (the backward
    # direction never reads the padding)
    texts = ["X", "increases", "the", "levels", "of", "Y"] + ["and"] * 20 + ["Z", "."]
    ents = [(0, 1, "Drug", ""), (5, 6, "Drug", ""), (26, 27, "Drug", "")]
    pairs = [model.encode(texts, ents, a, b, (0, len(texts))) for a, b in ((ents[0], ents[1]), (ents[0], ents[2]))]
    assert len(pairs[0][0]) < len(pairs[1][0])
    assert numpy.allclose(model.probs(pairs, chunk=2), numpy.concatenate([model.probs([p]) for p in pairs]), atol=1e-6)
    path = tmp_path / "lstm.pt"
    model.save(path)
    loaded = PairCnnModel.load(path, tmp_path / "vocab")
    assert loaded.config.encoder == "bilstm"
    assert numpy.allclose(loaded.probs(pairs), model.probs(pairs), atol=1e-7)


def test_bilstm_and_cnn_members_do_not_mix_and_bad_encoders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="encoder"):
        PairCnnConfig(classes=["none", "a"], encoder="transformer")
    with pytest.raises(ModelError, match="even number"):
        PairCnnConfig(classes=["none", "a"], encoder="bilstm", filters=7)
    lstm, cnn = _lstm_model(tmp_path), _model(tmp_path)
    with pytest.raises(ModelError, match="architecture"):
        PairCnnModel.ensemble([cnn, lstm], PairCnnConfig(classes=list(cnn.classes)))


def _ddi_folder(root: Path) -> Path:
    """Six tiny DDI documents, three in each part of the validation rule (the file name's hash)."""
    from ingest.text.relation_eval import ddi_is_validation

    root.mkdir(parents=True, exist_ok=True)
    want = {True: 3, False: 3}
    k = 0
    while any(want.values()):
        name = f"DDI-DrugBank.d{k}.xml"
        part = ddi_is_validation(name)
        if want[part]:
            want[part] -= 1
            kind = ("effect", "mechanism")[k % 2]
            (root / name).write_text(DDI_XML.format(kind=kind).replace("d1", f"d{k}"))
        k += 1
    return root


def test_members_trained_apart_combine_into_one_ensemble(tmp_path: Path) -> None:
    from graph_engine.errors import IngestError
    from ingest.text.pair_cnn_training import main

    ddi, vocab = _ddi_folder(tmp_path / "ddi"), _vocab(tmp_path / "vocab")
    common = ["--ddi", str(ddi), "--vectors", str(vocab), "--epochs", "1", "--filters", "8"]
    for seed in (0, 1):
        main(common + ["--seed", str(seed), "--output", str(tmp_path / f"s{seed}.pt")])
    main(common + ["--combine", str(tmp_path / "s0.pt"), str(tmp_path / "s1.pt"), "--output", str(tmp_path / "both.pt")])
    parts = [PairCnnModel.load(tmp_path / f"s{s}.pt", vocab) for s in (0, 1)]
    both = PairCnnModel.load(tmp_path / "both.pt", vocab)
    assert len(both.networks) == 2 and both.config.meta["member_seeds"] == [0, 1]
    assert both.config.meta["combined"] == ["s0.pt", "s1.pt"]
    pairs = _pairs(both)
    assert numpy.allclose(both.probs(pairs), (parts[0].probs(pairs) + parts[1].probs(pairs)) / 2, atol=1e-7)
    # the networks are the trained ones, tensor for tensor
    for net, part in zip(both.networks, parts):
        assert all(torch.equal(v, part.network.state_dict()[k]) for k, v in net.state_dict().items())
    with pytest.raises(IngestError, match="another architecture"):
        main(common + ["--encoder", "cnn", "--combine", str(tmp_path / "s0.pt"), "--output", str(tmp_path / "x.pt")])
