"""An explicitly stated treatment ("X treats Y", "Y was treated with X") is a TREATS of the pair and no CAUSES
(ingest.text.components.relations.indication; before it, "Metformin treats type 2 diabetes." came out CAUSES), and a
document-level CAUSES is not emitted for a pair whose TREATS in the document is at least as probable."""

from __future__ import annotations

import pytest

from ingest.text.components.relations import indication
from ingest.text.pipeline import extract_text, load_pipeline

pytestmark = pytest.mark.unit


def _pair(sentence: str, drug: str, disease: str) -> tuple[list[str], tuple, tuple]:
    words = sentence.lower().split()
    d, y = drug.lower().split(), disease.lower().split()
    i = next(k for k in range(len(words)) if words[k:k + len(d)] == d)
    j = next(k for k in range(len(words)) if words[k:k + len(y)] == y)
    return words, (i, i + len(d), "Drug", "D"), (j, j + len(y), "Disease", "Y")


@pytest.mark.parametrize("sentence, drug, disease", [
    ("metformin treats type 2 diabetes", "metformin", "diabetes"),
    ("metformin , which is widely used to treat diabetes", "metformin", "diabetes"),
    ("cisplatin in the treatment of patients with advanced lung cancer", "cisplatin", "lung cancer"),
    ("rifampin therapy for pulmonary tuberculosis", "rifampin", "pulmonary tuberculosis"),
    ("hypertension was successfully treated with lisinopril", "lisinopril", "hypertension"),
    ("treatment of psoriasis with azathioprine", "azathioprine", "psoriasis"),
    ("amiodarone , used for ventricular tachycardia", "amiodarone", "ventricular tachycardia"),
    ("warfarin reduces the risk of stroke", "warfarin", "stroke"),
    ("naloxone reversed respiratory paralysis induced by thiopental", "naloxone", "respiratory paralysis"),
])
def test_stated_treatments(sentence, drug, disease):
    assert indication(*_pair(sentence, drug, disease))


@pytest.mark.parametrize("sentence, drug, disease", [
    ("rats treated with cisplatin developed nephrotoxicity", "cisplatin", "nephrotoxicity"),
    ("cisplatin treated rats developed nephrotoxicity", "cisplatin", "nephrotoxicity"),
    ("cisplatin induced nephrotoxicity", "cisplatin", "nephrotoxicity"),
    ("nephrotoxicity induced by cisplatin", "cisplatin", "nephrotoxicity"),
    ("hepatitis after treatment with isoniazid", "isoniazid", "hepatitis"),
    ("metformin treats patients who later developed diabetes", "metformin", "diabetes"),
    ("methyldopa treated patients with psychiatric histories", "methyldopa", "psychiatric"),  # a comorbidity
    ("injections of haloperidol significantly attenuated the catalepsy", "haloperidol", "catalepsy"),  # no subject
    ("warfarin increases the risk of bleeding", "warfarin", "bleeding"),
])
def test_other_wordings_are_not_indications(sentence, drug, disease):
    assert not indication(*_pair(sentence, drug, disease))


@pytest.mark.parametrize("ner", [False, True])
def test_the_pipeline_types_a_stated_treatment_treats_and_not_causes(ner):
    nlp = load_pipeline(ner=ner)
    rels = extract_text(nlp, "Metformin treats type 2 diabetes.").relations
    assert [r.type for r in rels] == ["TREATS"] and rels[0].subject_text == "Metformin"
    both = extract_text(nlp, "Treatment of psoriasis with methotrexate caused hepatotoxicity.").relations
    assert {(r.type, r.object_text) for r in both} == {("TREATS", "psoriasis"), ("CAUSES", "hepatotoxicity")}
    # a TREATS of the pair at least as probable as the document-level CAUSES keeps that CAUSES out
    assert [r.type for r in extract_text(nlp, "Patients with hypertension were given amlodipine.").relations] == ["TREATS"]
    nlp.get_pipe("relations").indication_rule = False  # what the models alone said
    try:
        assert "CAUSES" in {r.type for r in extract_text(nlp, "Metformin treats type 2 diabetes.").relations}
    finally:
        nlp.get_pipe("relations").indication_rule = True
