"""Carve checkpoint-selection splits out of the NER *training* corpora.

The development sets are never used for training or model selection: they
are the reported held-out numbers. This script splits each training file
deterministically into a training part and a selection part:

* PubTator (BC5CDR): an abstract goes to selection when ``sha256(pmid) % 10 == 0``;
* IOB (BC2GM): sentence ``n`` (0-based, in file order) goes to selection when
  ``sha256(str(n)) % 20 == 0``.

Usage::

    python tools/make_ner_splits.py --shared ../shared/data --out runs/ner_splits
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path


def _bucket(key: str, mod: int) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % mod


def split_pubtator(src: Path, train: Path, select: Path, mod: int = 10) -> tuple[int, int]:
    blocks = [b for b in src.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    tr = [b for b in blocks if _bucket(b.strip().split("|", 1)[0], mod) != 0]
    se = [b for b in blocks if _bucket(b.strip().split("|", 1)[0], mod) == 0]
    train.write_text("\n\n".join(b.strip("\n") for b in tr) + "\n\n", encoding="utf-8")
    select.write_text("\n\n".join(b.strip("\n") for b in se) + "\n\n", encoding="utf-8")
    return len(tr), len(se)


def split_iob(src: Path, train: Path, select: Path, mod: int = 20) -> tuple[int, int]:
    sentences = [s for s in src.read_text(encoding="utf-8").split("\n\n") if s.strip()]
    tr = [s for n, s in enumerate(sentences) if _bucket(str(n), mod) != 0]
    se = [s for n, s in enumerate(sentences) if _bucket(str(n), mod) == 0]
    train.write_text("\n\n".join(s.strip("\n") for s in tr) + "\n\n", encoding="utf-8")
    select.write_text("\n\n".join(s.strip("\n") for s in se) + "\n\n", encoding="utf-8")
    return len(tr), len(se)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default="../shared/data", type=Path)
    ap.add_argument("--out", default="runs/ner_splits", type=Path)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    ner = a.shared / "ner"
    print("bc5cdr train/select abstracts:", split_pubtator(ner / "BC5CDR_TrainingSet.PubTator.txt",
          a.out / "bc5cdr_train90.PubTator.txt", a.out / "bc5cdr_select10.PubTator.txt"))
    print("bc2gm train/select sentences:", split_iob(ner / "BC2GM_train.iob.tsv",
          a.out / "bc2gm_train95.iob.tsv", a.out / "bc2gm_select5.iob.tsv"))


if __name__ == "__main__":
    main()
