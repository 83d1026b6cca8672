"""PHI fences: pseudonymous ids, the ``synthetic`` flag, and which importer owns each record label.

Patient and Case nodes carry pseudonyms only. :func:`id_problem` refuses an id that
could identify a person, whatever its shape:

* a **date** in any common form, anywhere in the id: ``1970-01-01``, ``1970_01_01``,
  ``1970.01.01``, ``01/01/1970``, ``01-01-1970``, ``19700101``, ``01011970``,
  ``01Jan1970``, ``Jan-01-1970`` (years 1900–2099, real month and day numbers);
* an **SSN- or phone-like** digit pattern: three or more digit groups of 2–4 digits
  joined by ``-``, ``_``, ``.``, ``/`` or a space, with 9 to 15 digits in all
  (``123-45-6789``, ``555.123.4567``, ``44-20-7946-0958``);
* a **personal name**: two or more capitalised alphabetic words in a row (an upper-case
  letter then lower-case letters), whether separated (``John_Smith``, ``Smith.John``,
  ``Mary-Jane_Doe``) or written CamelCase (``JohnSmith``, ``patientJohnSmith42``).

Hash-like parts are not searched (a random hex digest can hold ``19700101`` by chance):
a UUID, and any run of 16 or more lower-case hex characters (Synthea's keyed
``SYN:<24 hex>``). So ``SYN:3f9c…``, ``P000123``, ``SYNTH:P0001``, ``patient-7f3a91``,
``note-01``, ``123e4567-e89b-12d3-a456-426614174000`` pass. Not caught (they cannot be
told from codes): lower-case or all-capitals names (``john_smith``), single words,
digit runs without separators other than 8-digit dates (``123456789``).

Messages never contain the refused value: only what kind of thing was found.
"""

from __future__ import annotations

import re
from typing import Any

from graph_engine.errors import MedkgError

#: patient ids (JSONL import, the Synthea pseudonyms): a letter, then letters, digits and ``_ . : -``
PATIENT_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")
#: case ids (input records of the diagnosis models; image-folder ids are relative paths)
CASE_ID_MAX = 256

#: record labels and what writes them; ``medkg ingest graph`` writes none of them
RECORD_IMPORTERS: dict[str, str] = {
    "Patient": "medkg ingest patients",
    "Allergen": "medkg ingest patients",
    "Case": "medkg enrich diagnose",
    "Diagnosis": "medkg enrich diagnose",
    "Recommendation": "medkg enrich recommend",
    "Prediction": "medkg enrich toxicity / side-effects / predict-conditions",
    "Run": "the job that ran (every writing medkg job records its own Run)",
    "Article": "medkg ingest text",
    "Model": "the model jobs",
}

_SEP = r"[-_./ ]"
_YEAR = r"(?:19|20)\d\d"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_DATE_RES = [
    re.compile(rf"(?<!\d){_YEAR}{_SEP}{_MONTH}{_SEP}{_DAY}(?!\d)"),                     # 1970-01-01
    re.compile(rf"(?<!\d){_DAY}{_SEP}{_MONTH}{_SEP}{_YEAR}(?!\d)"),                     # 31-01-1970
    re.compile(rf"(?<!\d){_MONTH}{_SEP}{_DAY}{_SEP}{_YEAR}(?!\d)"),                     # 01/31/1970
    re.compile(r"(?<!\d)(?:(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"       # 19700131
               r"|(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])(?:19|20)\d\d"                # 31011970
               r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:19|20)\d\d)(?!\d)"),       # 01311970
    re.compile(rf"(?i)(?<!\d){_DAY}{_SEP}?{_MON}{_SEP}?{_YEAR}(?!\d)"),                  # 01Jan1970
    re.compile(rf"(?i){_MON}{_SEP}?{_DAY}{_SEP}?,?{_SEP}?{_YEAR}(?!\d)"),      # Jan-01-1970
    re.compile(rf"(?i)(?<!\d){_YEAR}{_SEP}?{_MON}{_SEP}?{_DAY}(?!\d)"),                  # 1970Jan01
]
_DIGIT_GROUPS = re.compile(r"(?<!\d)\d{2,4}(?:[-_./ ]\d{2,4}){2,}(?!\d)")
_HASHLIKE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-f]{16,}")
_TOKENS = re.compile(r"[A-Z][a-z]+|[A-Z]+(?![a-z])|[a-z]+|\d+")
_CAPITALISED = re.compile(r"^[A-Z][a-z]+$")


class PHIError(MedkgError, ValueError):
    """An id or field was refused because it could identify a person (the value is never in the message)."""


def id_problem(value: str) -> str | None:
    """What in ``value`` looks like PHI (``"a date"`` …), or ``None`` when it is a plausible pseudonym."""
    text = _HASHLIKE.sub("~", value)
    if any(r.search(text) for r in _DATE_RES):
        return "it contains a date"
    for m in _DIGIT_GROUPS.finditer(text):
        if 9 <= sum(c.isdigit() for c in m.group()) <= 15:
            return "it contains an SSN- or phone-like number"
    run = 0
    for tok in _TOKENS.findall(text):
        run = run + 1 if _CAPITALISED.match(tok) else 0
        if run >= 2:
            return "it looks like a personal name (two or more capitalised words)"
    return None


def shown(value: str) -> str:
    """``repr(value)`` for a message, or a placeholder when the value looks like PHI (never echoed)."""
    return "(withheld: it looks like PHI)" if id_problem(value) else repr(value)


def check_patient_id(value: Any, what: str = "patient id") -> str:
    """Return ``value`` if it is a pseudonymous patient id, else raise :class:`PHIError` (value not echoed)."""
    if not isinstance(value, str) or not PATIENT_ID_RE.match(value):
        raise PHIError(f"{what} refused: not a pseudonym (use a letter, then letters, digits and _ . : -, "
                       "at most 64 characters)")
    problem = id_problem(value)
    if problem:
        raise PHIError(f"{what} refused: {problem}; use a pseudonym (e.g. a keyed hash)")
    return value


def check_case_id(value: Any, what: str = "case id") -> str:
    """Return ``value`` if it may become a ``(:Case {id})``, else raise :class:`PHIError` (value not echoed)."""
    if not isinstance(value, str) or not value.strip() or len(value) > CASE_ID_MAX:
        raise PHIError(f"{what} refused: expected a non-empty string of at most {CASE_ID_MAX} characters")
    problem = id_problem(value)
    if problem:
        raise PHIError(f"{what} refused: {problem}; use a pseudonym (e.g. a keyed hash)")
    return value


def parse_synthetic(value: Any, what: str = "synthetic") -> bool:
    """A real boolean: ``True`` / ``False`` or the strings ``"true"`` / ``"false"`` (any case); else PHIError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise PHIError(f"{what!r} must be true or false (a JSON boolean, or the text true / false)")


def record_label_refusal(label: str, record_labels: tuple[str, ...] = ()) -> str | None:
    """Why the generic loader may not write ``label`` (``None`` when it may).

    Refused: every label in :data:`RECORD_IMPORTERS` and every other record label of the
    schema (``record_labels``, e.g. one added with ``Schema.extend``).
    """
    if label not in RECORD_IMPORTERS and label not in record_labels:
        return None
    owner = RECORD_IMPORTERS.get(label, "their own importer or job")
    return (f"label {label!r} is a record label: medkg ingest graph writes entity labels only; "
            f"{label} nodes are written by {owner}")
