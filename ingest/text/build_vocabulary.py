"""Rebuild the shipped vocabulary: ``python -m ingest.text.build_vocabulary --help``."""

from __future__ import annotations

import argparse

from ingest.text.vocabulary import build_default_vocabulary, default_vocabulary_path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Build ingest/text/data/vocabulary.tsv.gz from Hetionet nodes + training-corpus MeSH names")
    ap.add_argument("--hetionet-nodes", required=True, help="hetionet-v1.0-nodes.tsv")
    ap.add_argument("--corpus", action="append", default=[], help="annotated TRAINING corpus (repeatable)")
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--output", default=str(default_vocabulary_path()))
    args = ap.parse_args(argv)
    vocab = build_default_vocabulary(args.hetionet_nodes, args.corpus, args.version)
    vocab.save(args.output)
    print(f"{len(vocab)} entries -> {args.output}")


if __name__ == "__main__":
    main()
