"""How much the patient safety filter catches from text alone (issue 19, item 5).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python -m benchmarks.safety_text --work runs/safety_text

1. **Extract** (cached in ``WORK/extracted.jsonl``): the shipped accurate pipeline
   (``load_pipeline()``, what ``medkg extract`` / ``medkg ingest text`` run by default) over the drug
   texts in ``../shared/data``: the DDI 2013 ``Train`` folder (DrugBank + MedLine documents; the
   committed split ``ingest/text/data/ddi_train_split.tsv`` says which were the shipped
   ``INTERACTS_WITH`` model's training documents, ``train`` = in-sample, and which were held out,
   ``validation``) and the BC5CDR Training + Development abstracts (never seen by the DDI model).
2. **Reliability** of ``INTERACTS_WITH`` confidences on the DDI validation documents only: per
   relationship (unordered pair of drug ids, confidence = noisy-OR of its evidence scores, as the
   graph writer computes it), correct when one of its evidence sentences states a gold DDI pair
   (mentions mapped to gold entities by span overlap); this picks the default threshold.
3. **Graph**: the documents are written with the shipped writer (``ingest.text.writer``) into the
   Neo4j of ``NEO4J_URI`` (it must be empty, or ``--wipe``; no curated interaction is loaded), and
   the safety index is built with ``SafetyIndex.from_graph`` at several thresholds.
4. **Reference lists** (read from ``../shared/data/interactions``, never shipped): ONC high-priority
   pairs and CRESCENDDI positive controls (caught = the index flags the pair), ONC non-interruptive
   pairs and CRESCENDDI negative controls (false alarms = the index flags the pair). CRESCENDDI names
   are mapped to DrugBank ids through the shipped vocabulary (``DR4_drug_mappings.tsv`` concept names
   first, then the initial names). Denominators: every pair with both drugs mapped to a DrugBank id,
   and the pairs whose two drugs both appear (a linked Drug mention) in the mined text.

Prints a Markdown table and writes ``WORK/safety_text.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


# --------------------------------------------------------------------------- extraction (cached)


def corpus_documents(shared: Path) -> Iterator[tuple[str, Any]]:
    """``(part, Document)``: DDI Train documents (part ``ddi-train`` / ``ddi-validation``), BC5CDR abstracts."""
    from ingest.text.readers import read_documents
    from ingest.text.relation_eval import ddi_files, ddi_split, read_ddi_file

    parts = ddi_split()
    for f in ddi_files(shared / "ddi_corpus" / "Train"):
        yield f"ddi-{parts.get(f.name, 'unsplit')}", read_ddi_file(f).doc
    for name in ("BC5CDR_TrainingSet.PubTator.txt", "BC5CDR_DevelopmentSet.PubTator.txt"):
        for d in read_documents(shared / "ner" / name, "pubtator"):
            d.gold_mentions, d.gold_relations = [], []
            yield "bc5cdr", d


def extract(shared: Path, out: Path) -> dict[str, Any]:
    from ingest.text.pipeline import extract_documents, load_pipeline

    nlp = load_pipeline()
    docs = list(corpus_documents(shared))
    part_of = {d.id: p for p, d in docs}
    t = time.perf_counter()
    words = 0
    tmp = out.with_suffix(".partial")
    with tmp.open("w", encoding="utf-8") as fh:
        for d in extract_documents(nlp, (d for _, d in docs), batch_size=32):
            words += len(d.text.split())
            fh.write(json.dumps({"part": part_of[d.id], **d.to_json()}) + "\n")
    tmp.replace(out)
    return {"documents": len(docs), "words": words, "seconds": round(time.perf_counter() - t, 1)}


def load_extracted(path: Path) -> list[tuple[str, Any]]:
    """``(part, Document)`` back from the cached ``medkg extract`` lines (mentions and relations)."""
    from ingest.text.records import Document, Evidence, Mention, Relation

    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            o = json.loads(line)
            mentions = [Mention(m["doc_id"], m["start"], m["end"], m["text"], m["label"], m["id"], m["score"],
                                m.get("source", "ner"), m.get("negated", False), m.get("speculative", False))
                        for m in o["mentions"]]
            rels = []
            for r in o["relations"]:
                ev = Evidence(r["doc_id"], r["sentence"], r["sentence_start"], r["sentence_end"], *r["subject_span"],
                              *r["object_span"], r["extractor"], r["extractor_version"])
                rels.append(Relation(r["doc_id"], r["type"], r["subject"], r["object"], r["subject_label"],
                                     r["object_label"], r["subject_text"], r["object_text"], r["negated"],
                                     r["speculative"], r["score"], ev, r.get("interaction_type") or r.get("action")))
            out.append((o["part"], Document(id=o["doc_id"], text="", title=o.get("title"), year=o.get("year"),
                                            source=o.get("source"), mentions=mentions, relations=rels)))
    return out


# --------------------------------------------------------------------------- reliability on held-out DDI documents


def writable_interactions(doc: Any) -> list[Any]:
    """The INTERACTS_WITH relations the graph writer writes (asserted, both ends linked)."""
    return [r for r in doc.relations if r.type == "INTERACTS_WITH" and r.asserted and r.subject and r.object]


def reliability(shared: Path, extracted: list[tuple[str, Any]], part: str = "ddi-validation") -> dict[str, Any]:
    """Per relationship (unordered id pair, noisy-OR confidence over its evidence in ``part``'s documents):
    correct when one of its evidence sentences states a gold DDI pair. Also per piece of evidence."""
    from ingest.text.relation_eval import ddi_files, ddi_pairs_from_relations, read_ddi_file

    docs = {d.id: d for p, d in extracted if p == part}
    units = {u.doc.id: u for u in (read_ddi_file(f) for f in ddi_files(shared / "ddi_corpus" / "Train")) if u.doc.id in docs}
    evidence: list[tuple[float, bool]] = []
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for doc_id, d in docs.items():
        u = units[doc_id]
        for r in writable_interactions(d):
            ok = any(k in u.pairs for k in ddi_pairs_from_relations(u, [r], asserted_only=True))
            evidence.append((float(r.score), ok))
            key = (min(r.subject, r.object), max(r.subject, r.object))
            if key[0] == key[1]:
                continue
            e = pairs.setdefault(key, {"keys": {}, "ok": False})
            e["keys"].setdefault(r.evidence.key, float(r.score))
            e["ok"] |= ok
    rel = []
    for e in pairs.values():
        p = 1.0
        for x in e["keys"].values():
            p *= 1.0 - x
        rel.append((1.0 - p, bool(e["ok"])))
    return {"documents": len(docs), "evidence": _bins(evidence), "relationships": _bins(rel),
            "relationship_thresholds": _cuts(rel), "gold_pairs": sum(len(u.pairs) for u in units.values())}


def _bins(items: list[tuple[float, bool]], n: int = 10) -> list[dict[str, Any]]:
    out = []
    for b in range(n):
        lo, hi = b / n, (b + 1) / n
        sel = [(c, ok) for c, ok in items if lo <= c < hi or (b == n - 1 and c == 1.0)]
        if sel:
            k = sum(ok for _, ok in sel)
            out.append({"bin": f"[{lo:.1f}, {hi:.1f}{']' if b == n - 1 else ')'}", "n": len(sel),
                        "mean_confidence": round(sum(c for c, _ in sel) / len(sel), 3),
                        "correct": round(k / len(sel), 3), "wilson95": wilson(k, len(sel))})
    return out


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials."""
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / d
    return [round(c - h, 3), round(c + h, 3)]


def _cuts(items: list[tuple[float, bool]]) -> list[dict[str, Any]]:
    """Relationships kept at each threshold: how many, the share correct, and the correct ones kept."""
    total_ok = sum(ok for _, ok in items)
    out = []
    for t in THRESHOLDS:
        kept = [ok for c, ok in items if c >= t]
        out.append({"threshold": t, "kept": len(kept), "precision": round(sum(kept) / len(kept), 3) if kept else None,
                    "correct_kept": sum(kept), "correct_total": total_ok})
    return out


# --------------------------------------------------------------------------- reference lists (never shipped)


def _onc(path: Path) -> tuple[set[tuple[str, str]], int]:
    """Unordered DrugBank pairs of an ONC ``name$DB id$name$DB id$`` file, and the rows without two ids."""
    pairs, unmapped = set(), 0
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            f = line.strip().split("$")
            if len(f) < 4 or not f[1].startswith("DB") or not f[3].startswith("DB"):
                unmapped += 1 if line.strip() else 0
                continue
            a, b = f"DRUGBANK:{f[1].strip()}", f"DRUGBANK:{f[3].strip()}"
            if a != b:
                pairs.add((min(a, b), max(a, b)))
    return pairs, unmapped


def _crescenddi(path: Path, mapping: Path, vocab: Any) -> tuple[set[tuple[str, str]], int]:
    """Unordered drug-id pairs of a CRESCENDDI control file (names mapped through DR4 and the vocabulary)."""
    concept: dict[str, str] = {}
    with mapping.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            concept.setdefault(row["DRUG_CONCEPT_NAME"].strip().lower(), row["DRUG_INITIAL_NAME"].strip())

    def ident(name: str) -> str | None:
        for n in (name, concept.get(name.strip().lower(), "")):
            e = vocab.find(n, "Drug") if n else None
            if e is not None:
                return str(e.id)
        return None

    pairs, unmapped = set(), 0
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            a, b = ident(row["DRUG_1_CONCEPT_NAME"]), ident(row["DRUG_2_CONCEPT_NAME"])
            if a is None or b is None or a == b:
                unmapped += 1
                continue
            pairs.add((min(a, b), max(a, b)))
    return pairs, unmapped


def reference_lists(shared: Path) -> dict[str, dict[str, Any]]:
    from ingest.text.vocabulary import Vocabulary, default_vocabulary_path

    vocab = Vocabulary.load(default_vocabulary_path())
    base = shared / "interactions"
    onc_hp, onc_hp_un = _onc(base / "onc" / "ONC_High_Priority_Mapped.csv")
    onc_ni, onc_ni_un = _onc(base / "onc" / "ONC_Non_Interuptive_Mapped.csv")
    mapping = base / "crescenddi" / "DR4_drug_mappings.tsv"
    pos, pos_un = _crescenddi(base / "crescenddi" / "DR1_positive_controls.tsv", mapping, vocab)
    neg, neg_un = _crescenddi(base / "crescenddi" / "DR2_negative_controls.tsv", mapping, vocab)
    return {  # a safe list's pairs that the matching dangerous list also has are left out of it
        "ONC high-priority": {"kind": "dangerous", "pairs": onc_hp, "rows_unmapped": onc_hp_un},
        "CRESCENDDI positive controls": {"kind": "dangerous", "pairs": pos, "rows_unmapped": pos_un},
        "ONC non-interruptive": {"kind": "safe", "pairs": onc_ni - onc_hp, "rows_unmapped": onc_ni_un,
                                 "left_out_also_dangerous": len(onc_ni & onc_hp)},
        "CRESCENDDI negative controls": {"kind": "safe", "pairs": neg - pos, "rows_unmapped": neg_un,
                                         "left_out_also_dangerous": len(neg & pos)},
    }


# --------------------------------------------------------------------------- the graph and the index


def measure_graph(client: Any, docs: list[Any], lists: dict[str, dict[str, Any]],
                  thresholds: tuple[float, ...] = THRESHOLDS) -> dict[str, Any]:
    """Write ``docs`` with the shipped writer into the (empty) graph, build the index at each threshold, count."""
    from graph_engine import cypher as gcypher
    from ingest.text.writer import write_documents
    from recommend.patients import SafetyIndex

    with client.driver.session(database=client.database) as ses:  # CALL IN TRANSACTIONS: auto-commit only
        ses.run(gcypher.DELETE_ALL_RELATIONSHIPS).consume()
        ses.run(gcypher.DELETE_ALL_NODES).consume()
    t = time.perf_counter()
    summary = write_documents(client, docs)
    seconds = round(time.perf_counter() - t, 1)
    mined = {m.id for d in docs for m in d.mentions if m.label == "Drug" and m.id}
    out: dict[str, Any] = {"documents": len(docs), "write_seconds": seconds, "relations_written": summary.relations,
                           "drugs_in_text": len(mined), "rows": []}
    for t_ in thresholds:
        idx = SafetyIndex.from_graph(client, min_text_confidence=t_)
        flagged = {tuple(k.split("|")) for k in idx.evidence}
        row: dict[str, Any] = {"threshold": t_, "pairs_in_index": len(flagged)}
        for name, ref in lists.items():
            pairs = ref["pairs"]
            both = {p for p in pairs if p[0] in mined and p[1] in mined}
            row[name] = {"hit": len(pairs & flagged), "of": len(pairs), "hit_in_text": len(both & flagged),
                         "of_in_text": len(both)}
        out["rows"].append(row)
    return out


def measure(a: argparse.Namespace, extracted: list[tuple[str, Any]]) -> None:
    from graph_engine.connect import open_client

    rel = reliability(a.shared, extracted)
    lists = reference_lists(a.shared)
    result: dict[str, Any] = {"reliability_ddi_validation": rel,
                              "lists": {k: {x: (len(v) if x == "pairs" else v) for x, v in ref.items()}
                                        for k, ref in lists.items()},
                              "corpora": {}}
    parts = sorted({p for p, _ in extracted})
    result["documents_per_part"] = {p: sum(1 for q, _ in extracted if q == p) for p in parts}
    variants = {"all texts (DDI train in-sample + DDI validation + BC5CDR)": {"ddi-train", "ddi-validation", "bc5cdr"},
                "held-out texts only (DDI validation + BC5CDR)": {"ddi-validation", "bc5cdr"},
                "DDI train documents only (in-sample: the DDI model was trained on them)": {"ddi-train"},
                "DDI validation documents only (held out)": {"ddi-validation"},
                "BC5CDR abstracts only (held out)": {"bc5cdr"}}
    with open_client() as client:
        n = client.read("MATCH (n) RETURN count(n) AS n", {})[0]["n"]
        if n and not a.wipe:
            raise SystemExit(f"the Neo4j database holds {n} nodes: point NEO4J_URI at an empty one or pass --wipe")
        client.ensure_schema()
        for name, keep in variants.items():
            result["corpora"][name] = measure_graph(client, [d for p, d in extracted if p in keep], lists)
    (a.work / "safety_text.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(markdown(result))


def markdown(r: dict[str, Any]) -> str:
    rel = r["reliability_ddi_validation"]
    lines = [f"Reliability of INTERACTS_WITH confidences, DDI validation documents ({rel['documents']} documents, "
             f"{rel['gold_pairs']} gold DDI pairs; per relationship = unordered drug-id pair, noisy-OR confidence):", "",
             "| confidence bin | relationships | mean confidence | correct (Wilson 95%) | evidence sentences | "
             "mean score | correct |", "|---|---|---|---|---|---|---|"]
    ev = {b["bin"]: b for b in rel["evidence"]}
    for b in rel["relationships"]:
        e = ev.get(b["bin"], {"n": 0, "mean_confidence": "", "correct": ""})
        lo, hi = b["wilson95"]
        lines.append(f"| {b['bin']} | {b['n']} | {b['mean_confidence']} | {b['correct']} ({lo}-{hi}) | {e['n']} | "
                     f"{e['mean_confidence']} | {e['correct']} |")
    lines += ["", "| threshold | relationships kept | share correct | correct kept / all correct |", "|---|---|---|---|"]
    for c in rel["relationship_thresholds"]:
        lines.append(f"| {c['threshold']} | {c['kept']} | {c['precision']} | {c['correct_kept']} / {c['correct_total']} |")
    names = list(r["lists"])
    lines += ["", "Reference lists (unordered pairs, both drugs mapped to a vocabulary / DrugBank id; a safe list's "
                  "pairs that its dangerous list also holds are left out): " + "; ".join(
                      f"{n} {v['pairs']} pairs ({v['rows_unmapped']} rows unmapped"
                      + (f", {v['left_out_also_dangerous']} left out" if "left_out_also_dangerous" in v else "") + ")"
                      for n, v in r["lists"].items())]
    for corpus, res in r["corpora"].items():
        lines += ["", f"**{corpus}**: {res['documents']} documents, {res['relations_written']} INTERACTS_WITH evidence "
                      f"rows written, {res['drugs_in_text']} distinct linked drugs in the text. Cells: caught (dangerous "
                      "lists) or falsely flagged (safe lists) / pairs with both drugs mapped; in brackets the same for "
                      "pairs whose two drugs both appear in the mined text.", "",
                  "| min_text_confidence | pairs in index | " + " | ".join(names) + " |",
                  "|---" * (len(names) + 2) + "|"]
        for row in res["rows"]:
            cells = [f"{row[n]['hit']} / {row[n]['of']} ({row[n]['hit_in_text']} / {row[n]['of_in_text']})" for n in names]
            lines.append(f"| {row['threshold']} | {row['pairs_in_index']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "safety_text", help="cache and output folder")
    ap.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder")
    ap.add_argument("--extract-only", action="store_true", help="stop after the (cached) extraction")
    ap.add_argument("--wipe", action="store_true", help="empty the Neo4j database first (it must be empty otherwise)")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    cache = a.work / "extracted.jsonl"
    if not cache.exists():
        print(json.dumps({"extracted": extract(a.shared, cache)}), flush=True)
    if a.extract_only:
        return
    measure(a, load_extracted(cache))


if __name__ == "__main__":
    main()
