"""Structures (RDKit), the structure file reader, and the toxicity predictor against admet-ai itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from graph_engine.chem import morgan_matrix, read_structures, standardize, structure, tanimoto_matrix
from graph_engine.errors import IngestError


def test_standardize_canonical_and_inchikey() -> None:
    a, ka = standardize("OC(=O)c1ccccc1OC(C)=O")
    b, kb = standardize("CC(=O)Oc1ccccc1C(O)=O")
    assert a == b and ka == kb == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"  # aspirin's published InChIKey
    with pytest.raises(ValueError, match="cannot parse"):
        standardize("C1CC(")
    with pytest.raises(ValueError, match="empty"):
        standardize("  ")


def test_read_structures_fail_names_line_and_skip_counts(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("id,smiles,name\na,CCO,ethanol\nb,C1CC(,broken\nc,c1ccccc1,\na,CC,dup\n,CCN,\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"s\.csv, line 3: id 'b': invalid SMILES"):
        read_structures(p)
    r = read_structures(p, on_error="skip")
    assert r.read == 5 and [s.id for s in r.structures] == ["a", "c"]
    assert r.read == len(r.structures) + len(r.rejected)
    assert [(x.line, x.id) for x in r.rejected] == [(3, "b"), (5, "a"), (6, None)]
    assert "duplicate id" in r.rejected[1].reason and r.rejected[2].reason == "missing id"
    assert r.structures[0].name == "ethanol" and r.structures[1].name is None


def test_read_structures_jsonl_and_bad_header(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_text('{"id": "x", "smiles": "CCO"}\nnot json\n{"id": "y", "smiles": 5}\n', encoding="utf-8")
    r = read_structures(p, on_error="skip")
    assert [s.id for s in r.structures] == ["x"] and [x.line for x in r.rejected] == [2, 3]
    q = tmp_path / "h.csv"
    q.write_text("name,smi\na,CCO\n", encoding="utf-8")
    with pytest.raises(IngestError, match="line 1: header must have columns id and smiles"):
        read_structures(q)


def test_tanimoto_matches_rdkit() -> None:
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    smi = ["CCO", "CCN", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O"]
    m = tanimoto_matrix(morgan_matrix(smi), morgan_matrix(smi))
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in smi]
    ref = np.array([DataStructs.BulkTanimotoSimilarity(f, fps) for f in fps])
    assert np.allclose(m, ref, atol=1e-6)


@pytest.fixture(scope="module")
def tox_model():
    import torch

    torch.set_num_threads(1)
    from models.toxicity import load_toxicity_model

    return load_toxicity_model()


def test_fast_inference_equals_admet_ai_reference(tox_model) -> None:
    """Our featurise-once path gives admet-ai's own precomputed DrugBank predictions."""
    import pandas as pd

    from models.toxicity import drugbank_reference_path

    ref = pd.read_csv(drugbank_reference_path()).iloc[:40]
    ours = tox_model.predict_smiles(ref["smiles"].tolist(), batch_size=16)
    for task in ("hERG", "DILI", "ClinTox", "AMES", "NR-AR"):
        assert np.allclose(ours[:, tox_model.tasks.index(task)], ref[task].to_numpy(), atol=1e-4), task


def test_predict_structures_domain_and_format(tox_model) -> None:
    from models.toxicity import DOMAIN_THRESHOLD, predict_structures

    structs = [structure("ibuprofen", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"), structure("odd", "[Se]=[Se]")]
    preds = predict_structures(tox_model, structs, knowledge=None)
    a, b = (p.to_json() for p in preds)
    assert set(a) == {"id", "predictions", "out_of_domain", "nearest_training_similarity"}
    assert {"hERG", "DILI", "ClinTox", "AMES"} <= set(a["predictions"])
    assert a["nearest_training_similarity"] == 1.0 and a["out_of_domain"] is False  # ibuprofen is approved
    assert b["nearest_training_similarity"] < DOMAIN_THRESHOLD and b["out_of_domain"] is True
    assert a["predictions"]["hERG"] == a["predictions"]["hERG_structure"]  # no knowledge -> structure only
    json.dumps(a)


def test_herg_combiner_uses_graph_evidence(tox_model) -> None:
    from models.knowledge import QT_TERMS, DrugKnowledge
    from models.toxicity import HergCombiner, knowledge_features, predict_structures

    comb = HergCombiner.load()
    assert comb is not None and comb.coef["self_qt"] > 0 and comb.coef["kcnh2"] > 0
    s = [structure("DRUGBANK:DB00604", "CC(=O)N1CCN(CC1)c1ccc(OC[C@H]2CO[C@](Cn3ccnc3)(O2)c2ccc(Cl)cc2Cl)cc1")]
    none = DrugKnowledge(source="test")
    qt = DrugKnowledge(side_effects={"DRUGBANK:DB00604": {next(iter(QT_TERMS))}}, source="test")
    assert knowledge_features(s, qt).self_qt[0] == 1 and knowledge_features(s, none).self_qt[0] == 0
    p_none = predict_structures(tox_model, s, knowledge=none)[0].predictions["hERG"]
    p_qt = predict_structures(tox_model, s, knowledge=qt)[0].predictions["hERG"]
    assert p_qt > p_none


def test_qt_reference_list_is_consistent() -> None:
    import pandas as pd

    df = pd.read_csv(Path(__file__).resolve().parents[2] / "models" / "data" / "qt_reference.csv")
    assert set(df.tier) == {"A", "B", "N"} and df.drugbank_id.is_unique
    assert (df.label == (df.tier != "N")).all() and df.reason.notna().all()
    for smi in df.smiles:
        standardize(smi)
