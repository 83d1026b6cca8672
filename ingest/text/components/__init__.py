"""spaCy components of the medkg extraction pipeline, registered by versioned name.

=========================  ===================================================
factory                    what it does
=========================  ===================================================
``medkg_dictionary_v1``    longest-match dictionary recogniser over the
                           vocabulary (names + synonyms), sets ``doc.ents``
                           with the entity id in ``kb_id_``
``medkg_span_repair_v1``   entity boundary repair: unbalanced brackets,
                           split compound codes (``PG-9``)
``medkg_abbreviations_v1`` Schwartz-Hearst ``long form (SF)`` detection; every
                           later ``SF`` gets the long form's label and id
``medkg_linker_v1``        links mentions without an id by normalised exact /
                           synonym match; unlinked mentions keep ``kb_id_ == ""``
``medkg_negation_v1``      negation and speculation cues with their scope
``medkg_relations_v1``     sentence-level typed relations between linked
                           mentions (``doc._.medkg_relations``); ``TARGETS``
                           by the ChemProt classifier of ``targets``
=========================  ===================================================

One module per component (``dictionary``, ``span_repair``, ``abbreviations``,
``linker``, ``negation``, ``relations``), over the shared per-document token
caches and entity helpers of :mod:`ingest.text.components.cache`. Per-mention
scores and sources live in one doc extension,
``doc._.medkg_spans[span_key(start, end)] = (score, source)``, so they survive
``nlp.pipe(..., n_process=2)``. Components read tokens through arrays
(``doc.to_array``) rather than Token objects: they run at hundreds of thousands
of tokens per second.

Importing this package registers every factory; import names from the module
that defines them.
"""

from __future__ import annotations

# registers the factories above (spaCy configs and shipped models refer to them by name)
# (pair_cnn is the relations component's neural pair model: no factory; torch is imported only when it loads)
from ingest.text.components import (  # noqa: F401
    abbreviations, cache, dictionary, linker, negation, pair_cnn, relations, span_repair, targets,
)

__all__ = ["abbreviations", "cache", "dictionary", "linker", "negation", "pair_cnn", "relations", "span_repair",
           "targets"]
