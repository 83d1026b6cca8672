"""Map Synthea codes to graph ids: SNOMED CT conditions -> Disease, RxNorm products -> Drug ingredients.

Names are linked with the extraction linker's :class:`~ingest.text.vocabulary.Vocabulary`
(same normalisation as text mining: case, plurals, hyphens, possessives), built
from the graph's own Disease / Drug nodes (names and synonyms); a node whose
``xrefs`` already hold ``SNOMEDCT:<code>`` / ``RXNORM:<code>`` wins over names.
SNOMED CT descriptions lose their semantic tag first (``"Hypertension (disorder)"``
-> ``"Hypertension"``). An RxNorm product description is split into its
ingredients (``"Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet"`` ->
``amoxicillin``, ``clavulanate``); salts are tried with and without their salt
word (``metformin hydrochloride`` -> ``metformin``).

Unlinked conditions become ``SNOMEDCT:<code>`` Disease ids; unlinked
ingredients ``RXNORM-IN:<normalised name>`` Drug ids (RxNorm ingredient codes are
not in the export, only product codes, which are kept as ``RXNORM:`` xrefs).
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from graph_engine.synthea import semantic_tag, strip_tag
from ingest.text.vocabulary import VocabEntry, Vocabulary

__all__ = ["Linker", "coverage_line", "distinct_codes", "ingredients", "semantic_tag", "strip_tag",
           "unlinked_disease_id"]
_BRACKET_RE = re.compile(r"\[[^\]]*\]")
_LEAD_RE = re.compile(r"^(?:NDA\d+\s+|Abuse-Deterrent\s+|[\d.]+\s+(?:HR|ML|MG|DAY|ACTUAT)\s+)+", re.IGNORECASE)
_STRENGTH_RE = re.compile(r"\s[\d.]+(?:\s|/|$).*$")
_PACK_RE = re.compile(r"\s+\d+\s+Day\s+Pack$", re.IGNORECASE)
#: id prefixes of nodes created for unlinked codes (never used as link targets)
OWN_PREFIXES = ("SNOMEDCT:", "RXNORM-IN:")
_TYPE_RE = re.compile(r"^(.+?) type (\d)$", re.IGNORECASE)  # "Diabetes mellitus type 2" -> "type 2 diabetes mellitus"
_QUALIFIER_RE = re.compile(r"^(?:essential|primary|idiopathic)\s+", re.IGNORECASE)
SALTS = frozenset(["hydrochloride", "hcl", "sodium", "potassium", "calcium", "magnesium", "maleate", "succinate", "besylate", "tartrate", "citrate", "sulfate", "mesylate", "acetate", "bromide", "hydrobromide", "fumarate", "phosphate", "bitartrate", "monohydrate", "dihydrate", "trihydrate", "macrocrystals", "propionate", "valerate", "dipropionate", "furoate", "disodium", "chloride", "xinafoate", "lysine"])


def ingredients(description: str) -> list[str]:
    """Lower-case ingredient names of an RxNorm product description (brand packs: the brand)."""
    text = _BRACKET_RE.sub("", description).strip()
    text = _PACK_RE.sub("", text)
    out = []
    for part in text.split(" / "):
        part = _LEAD_RE.sub("", part.strip())
        part = _STRENGTH_RE.sub("", " " + part).strip()
        part = re.sub(r"\s+", " ", part).lower()
        if part and part not in out:
            out.append(part)
    return out


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _salt_free(name: str) -> str:
    words = [w for w in name.split() if w not in SALTS]
    return " ".join(words)


@dataclass
class Linker:
    """Links condition / medication descriptions to graph ids (see the module docstring)."""

    vocabulary: Vocabulary
    xrefs: Mapping[str, str] = field(default_factory=dict)  # "SNOMEDCT:123" / "RXNORM:456" -> graph id

    @classmethod
    def from_nodes(cls, rows: Iterable[Mapping], version: str = "graph") -> Linker:
        """From rows ``{id, label, name, synonyms, xrefs}`` (e.g. the graph's Disease and Drug nodes)."""
        entries: list[Any] = []
        xrefs: dict[str, Any] = {}
        for r in rows:
            if str(r["id"]).startswith(OWN_PREFIXES):
                continue  # nodes this importer created: linking to them would make re-imports differ
            if r.get("name"):
                entries.append(VocabEntry(r["id"], r["label"], r["name"], tuple(r.get("synonyms") or ())))
            for x in r.get("xrefs") or ():
                if x.startswith(("SNOMEDCT:", "RXNORM:")):
                    xrefs.setdefault(x, r["id"])
        return cls(Vocabulary(entries, version), xrefs)

    def condition(self, code: str, description: str) -> str | None:
        """The graph Disease id for a SNOMED CT condition, or ``None``."""
        hit = self.xrefs.get(f"SNOMEDCT:{code}")
        if hit:
            return hit
        name = strip_tag(description)
        for candidate in dict.fromkeys((name, _TYPE_RE.sub(r"type \2 \1", name), _QUALIFIER_RE.sub("", name))):
            e = self.vocabulary.find(candidate, "Disease") if candidate else None
            if e:
                return e.id
        return None

    def ingredient(self, name: str) -> str | None:
        """The graph Drug id for an ingredient name, or ``None``."""
        for candidate in dict.fromkeys((name, _salt_free(name), name.split()[0] if name.split() else "")):
            if len(candidate) >= 3:
                e = self.vocabulary.find(candidate, "Drug")
                if e:
                    return e.id
        return None

    def medication(self, code: str, description: str) -> list[tuple[str, str, bool]]:
        """``(drug id, ingredient name, linked)`` per ingredient of an RxNorm product."""
        names = ingredients(description) or [description.lower()]
        hit = self.xrefs.get(f"RXNORM:{code}")
        if hit and len(names) == 1:
            return [(hit, names[0], True)]
        out = []
        for n in names:
            gid = self.ingredient(n)
            out.append((gid, n, True) if gid else (f"RXNORM-IN:{_slug(_salt_free(n) or n)}", n, False))
        return out


def unlinked_disease_id(code: str) -> str:
    return f"SNOMEDCT:{code}"


def coverage_line(kind: str, linked_codes: int, codes: int, linked_rows: int, rows: int) -> str:
    pc = 100.0 * linked_codes / codes if codes else 0.0
    pr = 100.0 * linked_rows / rows if rows else 0.0
    return f"{kind}: {linked_codes}/{codes} codes linked to graph ids ({pc:.1f}%), {linked_rows}/{rows} rows ({pr:.1f}%)"


def distinct_codes(codes: Sequence[str], descriptions: Sequence[str]) -> dict[str, str]:
    """code -> first description seen."""
    out: dict[str, str] = {}
    for c, d in zip(codes, descriptions):
        out.setdefault(str(c), str(d))
    return out
