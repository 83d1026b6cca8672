"""`tools/ner_task_corpora.py --rehearse`: the shipped model's Disease predictions join a corpus's gold
mentions, except where they overlap one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ingest.text.pipeline import shipped_model

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("ner_task_corpora", ROOT / "tools" / "ner_task_corpora.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(shipped_model("ner") is None, reason="needs the shipped NER model")
def test_rehearsal_adds_predictions_that_overlap_no_gold_mention() -> None:
    tool = _tool()
    nlp = tool.load_model(shipped_model("ner"))
    text = "Tamoxifen reduced the risk of breast cancer but caused deep vein thrombosis in two patients."
    drug = (0, 9, "Chemical")
    ((_, _, spans),), counts = tool.rehearse(nlp, [("d1", text, [drug])], ["Disease"])
    assert drug in spans  # the gold mention is kept
    added = [s for s in spans if s[2] == "Disease"]
    assert counts["rehearsal_mentions"] == len(added) >= 1
    assert any(text[a:b] == "breast cancer" for a, b, _ in added)
    assert all(b <= drug[0] or a >= drug[1] for a, b, _ in added)

    # a gold mention over the disease: the prediction overlapping it is dropped and counted
    start = text.index("breast cancer")
    gold = (start, start + len("breast"), "Gene")
    ((_, _, spans2),), counts2 = tool.rehearse(nlp, [("d1", text, [drug, gold])], ["Disease"])
    assert gold in spans2
    assert not any(s[2] == "Disease" and s[0] < gold[1] and gold[0] < s[1] for s in spans2)
    assert counts2["rehearsal_overlapping_dropped"] >= 1
    assert counts2["rehearsal_mentions"] == counts["rehearsal_mentions"] - 1
