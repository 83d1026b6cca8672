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
from typing import Callable


def _bucket(key: str, mod: int) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % mod


def split_blocks(src: Path, train: Path, select: Path, key: Callable[[int, str], str], mod: int) -> tuple[int, int]:
    """Split a file of blank-line-separated blocks: block ``n`` goes to selection when ``sha256(key(n, block)) % mod == 0``."""
    blocks = [b.strip("\n") for b in src.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    to_select = [_bucket(key(n, b), mod) == 0 for n, b in enumerate(blocks)]
    for path, side in ((train, False), (select, True)):
        path.write_text("\n\n".join(b for b, s in zip(blocks, to_select) if s == side) + "\n\n", encoding="utf-8")
    return to_select.count(False), to_select.count(True)


def _pmid(n: int, block: str) -> str:
    return block.strip().split("|", 1)[0]


def _sentence_number(n: int, block: str) -> str:
    return str(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default="../shared/data", type=Path)
    ap.add_argument("--out", default="runs/ner_splits", type=Path)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    ner = a.shared / "ner"
    print("bc5cdr train/select abstracts:", split_blocks(ner / "BC5CDR_TrainingSet.PubTator.txt",
          a.out / "bc5cdr_train90.PubTator.txt", a.out / "bc5cdr_select10.PubTator.txt", _pmid, 10))
    print("bc2gm train/select sentences:", split_blocks(ner / "BC2GM_train.iob.tsv",
          a.out / "bc2gm_train95.iob.tsv", a.out / "bc2gm_select5.iob.tsv", _sentence_number, 20))


if __name__ == "__main__":
    main()
