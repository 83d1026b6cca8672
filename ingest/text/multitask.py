"""One shared tok2vec, one NER head per label, each head trained only on the corpora that annotate its label.

BC5CDR annotates Drug and Disease, NCBI-disease only Disease, BC2GM only Gene.
One NER per corpus (the 0.3.0 layout) runs a whole CNN tok2vec per model; one
NER over the union would learn from NCBI-disease that its drugs are "not an
entity". Here a single ``tok2vec`` component feeds :class:`NerHead` components
through spaCy listeners. Every training document records which labels its
corpus annotates (:func:`mark_annotated`), and each head sees a
document either with its own labels' entities (everything else outside, the
corpus's missing tokens still missing), or, when the corpus does not annotate
the head's labels, with *every* token missing, which gives no loss. The shared
tok2vec learns from all corpora at once.

At run time the heads run in pipeline order; a later head never overwrites an
earlier head's entities (spaCy's preset-entity rule), as the two separate
models did before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from spacy.language import Language
from spacy.pipeline.ner import DEFAULT_NER_MODEL, EntityRecognizer
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example

from graph_engine.errors import IngestError
from ingest.text.readers import ReadStats
from ingest.text.corpora import PartialCorpus, blank_pipeline, partial_docs

#: ``doc.cats`` key prefix: ``doc.cats["medkg_annotated:Disease"] == 1.0`` when the document's
#: corpus annotates Disease. Kept in ``doc.cats``, not ``doc.user_data``: a ``DocBin`` stores all
#: cats in one block, while user data costs a msgpack decode per document every epoch (4 ms).
ANNOTATED_PREFIX = "medkg_annotated:"


def annotated_labels(doc: Doc) -> frozenset[str] | None:
    """The labels ``doc``'s corpus annotates, or ``None`` when unrecorded (a fully annotated corpus)."""
    found = frozenset(k[len(ANNOTATED_PREFIX):] for k, v in doc.cats.items() if k.startswith(ANNOTATED_PREFIX) and v)
    return found or None


def mark_annotated(doc: Doc, labels: Iterable[str]) -> None:
    """Record in ``doc`` that its corpus annotates ``labels``."""
    for label in labels:
        doc.cats[ANNOTATED_PREFIX + label] = 1.0

HEAD_FACTORY = "medkg_ner_head"


def config_heads(cfg: Any) -> dict[str, list[str]]:
    """``{head component: labels}`` of the :class:`NerHead` components in a spaCy config, in pipeline order."""
    comps = cfg.get("components", {})
    return {name: list(comps[name].get("labels", [])) for name in cfg["nlp"]["pipeline"]
            if comps.get(name, {}).get("factory") == HEAD_FACTORY}


class NerHead(EntityRecognizer):
    """A spaCy ``ner`` that learns only from documents whose corpus annotates its labels.

    Args beyond spaCy's ``EntityRecognizer``:
        labels: the labels this head predicts. A document annotated for them
            (:func:`annotated_labels` holds all of them, or nothing is recorded:
            a fully annotated corpus) trains the head on its entities of
            these labels; any other document trains it on nothing.
    """

    def __init__(self, vocab: Any, model: Any, name: str = "ner", moves: Any = None, *,
                 labels: Iterable[str] = (), update_with_oracle_cut_size: int = 100,
                 incorrect_spans_key: str | None = None, scorer: Callable[..., Any] | None = None) -> None:
        kwargs: dict[str, Any] = {"update_with_oracle_cut_size": update_with_oracle_cut_size,
                                  "incorrect_spans_key": incorrect_spans_key}
        if scorer is not None:
            kwargs["scorer"] = scorer
        super().__init__(vocab, model, name, moves, **kwargs)
        self.head_labels = frozenset(labels)
        if not self.head_labels:
            raise ValueError(f"{name}: a medkg_ner_head needs its labels, e.g. labels = [\"Drug\"]")

    def learns_from(self, doc: Doc) -> bool:
        """Whether ``doc``'s corpus annotates every label of this head."""
        annotated = annotated_labels(doc)
        return annotated is None or self.head_labels <= annotated

    def view(self, eg: Example) -> Example:
        """``eg`` as this head must learn from it (see the class docstring)."""
        ref = eg.reference
        doc = Doc(ref.vocab, words=[t.text for t in ref], spaces=[bool(t.whitespace_) for t in ref])
        if self.learns_from(ref):
            ents = [Span(doc, e.start, e.end, label=e.label) for e in ref.ents if e.label_ in self.head_labels]
            missing = [doc[t.i:t.i + 1] for t in ref if t.ent_iob == 0]
            doc.set_ents(ents, missing=missing, default="outside")
        # otherwise every token stays missing (a new Doc's entity annotation is unset)
        return Example(eg.predicted, doc)

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Language | None = None,
                   labels: Any = None) -> None:
        return super().initialize(lambda: (self.view(eg) for eg in get_examples()), nlp=nlp, labels=labels)

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Any = None,
               losses: dict[str, float] | None = None) -> dict[str, float]:
        examples = list(examples)
        views = [self.view(eg) for eg in examples]
        if any(self.moves.has_gold(eg) for eg in views):
            return super().update(views, drop=drop, sgd=sgd, losses=losses)
        # Nothing in this batch annotates our labels. The shared tok2vec still waits for
        # this listener: its backward pass runs when its last listener answers, so answer
        # with a zero gradient instead of returning early (which would drop the other
        # heads' gradients for the batch).
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        tok2vec = self.model.get_ref("tok2vec")
        out, backprop = tok2vec.begin_update([eg.predicted for eg in examples])
        backprop(tok2vec.ops.alloc2f(*out.shape))
        return losses


@Language.factory(
    HEAD_FACTORY,
    default_config={
        "model": DEFAULT_NER_MODEL,
        "labels": [],
        "moves": None,
        "update_with_oracle_cut_size": 100,
        "incorrect_spans_key": None,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
)
def make_ner_head(nlp: Language, name: str, model: Any, labels: list[str], moves: Any,
                  update_with_oracle_cut_size: int, incorrect_spans_key: str | None,
                  scorer: Callable[..., Any] | None) -> NerHead:
    return NerHead(nlp.vocab, model, name, moves, labels=labels, update_with_oracle_cut_size=update_with_oracle_cut_size,
                   incorrect_spans_key=incorrect_spans_key, scorer=scorer)


@dataclass(frozen=True)
class TaskCorpus(PartialCorpus):
    """One training corpus of a multi-task NER: a :class:`PartialCorpus` (path, the labels it
    annotates, annotation types marked missing) plus ``repeat``, how many times each document
    enters the training data."""

    repeat: int = 1

    @classmethod
    def parse(cls, spec: str) -> "TaskCorpus":
        """``PATH:Label1+Label2[:xREPEAT][:drop=Type1+Type2]`` (the CLI form)."""
        path, _, rest = spec.partition(":")
        if not rest:
            raise ValueError(f"{spec!r}: expected PATH:Labels[:xN][:drop=Types], e.g. NCBI_trainset_corpus.txt:Disease:drop=Modifier")
        parts = rest.split(":")
        labels = frozenset(x for x in parts[0].split("+") if x)
        repeat, drop = 1, frozenset[str]()
        for part in parts[1:]:
            if part.startswith("x") and part[1:].isdigit() and int(part[1:]) >= 1:
                repeat = int(part[1:])
            elif part.startswith("drop="):
                drop = frozenset(x for x in part[5:].split("+") if x)
            else:
                raise ValueError(f"{spec!r}: {part!r} is neither xN (a repeat count >= 1) nor drop=Types")
        return cls(Path(path), labels, drop, repeat)


def task_docs(corpus: TaskCorpus, counts: dict[str, int], stats: ReadStats | None = None) -> Iterator[Doc]:
    """The corpus's documents with its labels' entities, tagged with the labels it annotates."""
    nlp = blank_pipeline()
    for doc in partial_docs(nlp, corpus, None, counts, stats):
        mark_annotated(doc, corpus.labels)
        yield doc


def multitask_docbin(corpora: Iterable[TaskCorpus], output: str | Path) -> dict[str, Any]:
    """Write the training documents of all corpora, tagged for :class:`NerHead`, to a ``.spacy`` file.

    Returns per-corpus counts (documents, mentions, missing tokens, rejected records).

    Raises:
        IngestError: a corpus has no mention of the labels it is said to annotate.
    """
    db = DocBin(store_user_data=False)
    report: dict[str, Any] = {}
    for corpus in corpora:
        counts: dict[str, int] = {}
        read = ReadStats()
        n = 0
        for doc in task_docs(corpus, counts, read):
            for _ in range(corpus.repeat):
                db.add(doc)
            n += 1
        if not counts.get("partial_mentions"):
            raise IngestError(f"no mention labelled {'/'.join(sorted(corpus.labels))}: expected a PubTator or IOB corpus annotating them",
                              str(corpus.path))
        report[corpus.path.name] = {"labels": sorted(corpus.labels), "docs": n, "repeat": corpus.repeat,
                                    "mentions": counts["partial_mentions"],
                                    "missing_tokens": counts.get("partial_missing_tokens", 0),
                                    "rejected": read.rejected, "drop_types": sorted(corpus.drop_types)}
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(output)
    return report
