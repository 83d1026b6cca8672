"""Synthea CSV exports as PHI-free tables, keyed patient pseudonyms and SNOMED CT semantic tags.

The record layer shared by ``ingest.synthea`` (graph import) and ``models.sequence``
(next-condition model), which may import only ``graph_engine``.

Only the columns medkg uses are ever loaded (``usecols``): from ``patients.csv``
the source ``Id`` (replaced at once by a keyed pseudonym, see
:class:`Pseudonymizer`), the birth *year*, the death *year* and the
sex. Names, SSNs, driver's licences, passports, addresses, places, income and
full birth/death dates are never read, so they cannot reach the graph, logs or
artifacts. Clinical events keep their day-resolution dates (the model needs
them) and their codes.

Every file is accounted for: ``read = written + rejected`` where *written*
counts rows kept in the tables and *rejected* rows with a bad date, an unknown
patient or a missing code (the first reason and line are kept for the report).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from graph_engine.errors import ConfigError, IngestError
from graph_engine.settings import Settings, read_secret_file, write_secret_file

# ---------------------------------------------------------------- pseudonyms
# ``SYN:<HMAC-SHA256(key, source id)[:24]>``. The key is a secret handled like the Neo4j password
# (``graph_engine.settings``): ``MEDKG_PATIENT_KEY`` (the key itself), else ``MEDKG_PATIENT_KEY_FILE``,
# else ``$MEDKG_HOME/patient-key`` (mode 0600, generated on first use). Without the key a pseudonym
# cannot be linked back to the source record; the same key always gives the same pseudonym, so
# re-imports are idempotent.
PREFIX = "SYN:"


def key_file(settings: Settings) -> Path:
    return settings.home / "patient-key"


def load_key(settings: Settings | None = None, env: Mapping[str, str] | None = None, create: bool = True) -> bytes:
    """The pseudonymisation key (never logged); generated into a 0600 file on first use.

    Raises:
        ConfigError: the key is too short, or its file is unsafe / missing with ``create=False``.
    """
    env = os.environ if env is None else env
    settings = settings or Settings.load(env)
    if env.get("MEDKG_PATIENT_KEY"):
        key = env["MEDKG_PATIENT_KEY"]
    else:
        path = Path(env["MEDKG_PATIENT_KEY_FILE"]) if env.get("MEDKG_PATIENT_KEY_FILE") else key_file(settings)
        if not path.exists():
            if not create or env.get("MEDKG_PATIENT_KEY_FILE"):
                raise ConfigError(f"patient key file {path} does not exist")
            write_secret_file(path, secrets.token_hex(32))
        key = read_secret_file(path)
    if len(key) < 16:
        raise ConfigError("the patient pseudonymisation key must have at least 16 characters")
    return key.encode("utf-8")


class Pseudonymizer:
    """Maps source patient ids to stable keyed pseudonyms (``repr`` hides the key)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymizer(key=***)"

    def __call__(self, source_id: str) -> str:
        digest = hmac.new(self._key, source_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return PREFIX + digest[:24]


# ---------------------------------------------------------------- SNOMED CT semantic tags
_TAG_RE = re.compile(r"\s*\(([a-z][a-z /-]*)\)\s*$")


def semantic_tag(description: str) -> str:
    """``"(disorder)"`` tag of a SNOMED CT description, without parentheses (``""`` if none)."""
    m = _TAG_RE.search(description)
    return m.group(1) if m else ""


def strip_tag(description: str) -> str:
    return _TAG_RE.sub("", description).strip()


# ---------------------------------------------------------------- reading an export
REQUIRED_FILES = ("patients.csv", "conditions.csv", "medications.csv")
OPTIONAL_FILES = ("encounters.csv", "allergies.csv", "careplans.csv", "immunizations.csv", "procedures.csv",
                  "observations.csv", "devices.csv")

#: event files and the columns read from them (PATIENT, START, CODE, DESCRIPTION always)
_EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "conditions.csv": ("START", "STOP", "PATIENT", "CODE", "DESCRIPTION"),
    "medications.csv": ("START", "STOP", "PATIENT", "CODE", "DESCRIPTION", "REASONCODE"),
    "procedures.csv": ("START", "PATIENT", "CODE", "DESCRIPTION"),
    "allergies.csv": ("START", "STOP", "PATIENT", "CODE", "SYSTEM", "DESCRIPTION", "CATEGORY"),
    "encounters.csv": ("START", "PATIENT", "CODE", "DESCRIPTION", "ENCOUNTERCLASS"),
    "immunizations.csv": ("DATE", "PATIENT", "CODE", "DESCRIPTION"),
    "careplans.csv": ("START", "STOP", "PATIENT", "CODE", "DESCRIPTION"),
    "observations.csv": ("DATE", "PATIENT", "CODE", "DESCRIPTION", "VALUE", "TYPE"),
    "devices.csv": ("START", "STOP", "PATIENT", "CODE", "DESCRIPTION"),
}
#: text observations whose VALUE is kept (a coded answer, never free text); every other text VALUE is dropped
#: on reading: survey items such as PRAPARE "What address do you live at?" carry the fake address
SAFE_TEXT_OBSERVATIONS = frozenset({"72166-2"})  # Tobacco smoking status
_PATIENT_COLUMNS = ("Id", "BIRTHDATE", "DEATHDATE", "BIRTH_YEAR", "DEATH_YEAR", "GENDER")
#: the allow-lists: the only columns ever read (every other column is never loaded)
PATIENT_COLUMNS, EVENT_COLUMNS = _PATIENT_COLUMNS, _EVENT_COLUMNS


@dataclass
class FileReport:
    """Accounting for one input file."""

    name: str
    read: int = 0
    written: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    first_rejected: tuple[int, str] | None = None

    def reject(self, lines: np.ndarray, reason: str) -> None:
        if len(lines) == 0:
            return
        self.rejected += len(lines)
        self.reasons[reason] += len(lines)
        first = (int(lines.min()), reason)
        if self.first_rejected is None or first[0] < self.first_rejected[0]:
            self.first_rejected = first

    def render(self) -> str:
        out = f"{self.name}: read {self.read} = written {self.written} + rejected {self.rejected}"
        if self.first_rejected:
            out += f" (first rejected: line {self.first_rejected[0]}: {self.first_rejected[1]})"
        return out


@dataclass
class SyntheaTables:
    """PHI-free tables of one export.

    ``patients``: ``pid, source_row, birth_year, death_year (float, NaN alive), sex``.
    Event tables (``conditions``, ``medications``, ...): ``pid, start, stop, code,
    description`` (+ ``reason_code`` for medications, ``system``/``category`` for
    allergies); dates are ``datetime64[D]``, ``stop`` NaT when open.
    ``source_ids`` maps pid -> the input's PATIENT id (kept in memory only, for
    outputs whose contract names the input id; never written to the graph).
    """

    directory: Path
    patients: pd.DataFrame
    events: dict[str, pd.DataFrame]
    reports: dict[str, FileReport]
    source_ids: dict[str, str]

    def table(self, name: str) -> pd.DataFrame:
        """An event table (empty with the right columns when the file was absent)."""
        if name in self.events:
            return self.events[name]
        cols = ["pid", "start", "stop", "code", "description"]
        return pd.DataFrame({c: pd.Series(dtype="datetime64[s]" if c in ("start", "stop") else object) for c in cols})

    @property
    def end_date(self) -> np.datetime64:
        """The latest event start in the export (the cohort's "today")."""
        ends = [t["start"].max() for t in self.events.values() if len(t)]
        return np.datetime64(max(ends), "D")


def concat_tables(parts: list[SyntheaTables], max_end_gap_days: int = 31) -> SyntheaTables:
    """One cohort from several exports read with the same pseudonymizer (e.g. two states, two seeds).

    Raises:
        IngestError: ``parts`` is empty; a patient id occurs in two exports (naming both folders); or the
            exports end more than ``max_end_gap_days`` apart (a model's cuts are counted back from one end
            date, so an export that ended earlier would look free of recent onsets).
    """
    if not parts:
        raise IngestError("no Synthea export given")
    if len(parts) == 1:
        return parts[0]
    seen: dict[str, Path] = {}
    for t in parts:
        for pid in t.patients["pid"]:
            if pid in seen:
                raise IngestError(f"patient {t.source_ids.get(pid, pid)!r} is also in {seen[pid]}; "
                                  "exports must hold distinct patients (use another seed)", str(t.directory / "patients.csv"))
            seen[pid] = t.directory
    ends = [t.end_date for t in parts]
    lo, hi = int(np.argmin(ends)), int(np.argmax(ends))
    if (ends[hi] - ends[lo]).astype(int) > max_end_gap_days:
        raise IngestError(f"this export ends on {ends[lo]} but {parts[hi].directory} on {ends[hi]} (more than "
                          f"{max_end_gap_days} days apart); generate the exports on the same day", str(parts[lo].directory))
    events: dict[str, pd.DataFrame] = {}
    for name in sorted({n for t in parts for n in t.events}):
        frames = [t.events[name] for t in parts if name in t.events]
        events[name] = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    reports: dict[str, FileReport] = {}
    for t in parts:
        for name, r in t.reports.items():
            acc = reports.setdefault(name, FileReport(name))
            acc.read += r.read
            acc.written += r.written
            acc.rejected += r.rejected
            acc.reasons.update(r.reasons)
            if r.first_rejected and acc.first_rejected is None:
                acc.first_rejected = (r.first_rejected[0], f"{t.directory}: {r.first_rejected[1]}")
    source_ids = {k: v for t in parts for k, v in t.source_ids.items()}
    return SyntheaTables(parts[0].directory, pd.concat([t.patients for t in parts], ignore_index=True), events,
                         reports, source_ids)


def _dates(col: pd.Series) -> pd.Series:
    s = col.fillna("").astype(str).str.slice(0, 10)
    return pd.to_datetime(s.where(s != "", None), format="%Y-%m-%d", errors="coerce")


def _blur(d: pd.Series, birth: pd.Series, death: pd.Series) -> pd.Series:
    """Dates that would reveal a birth or death date lose their day.

    Anything in the first year of life becomes 1 January of the birth year; a date on the day of death
    becomes the first of that month. (Events on the birth or death day would otherwise copy those dates.)
    """
    d = pd.to_datetime(d)
    infant = d < birth + pd.Timedelta(days=365)
    on_death = d == death
    d = d.mask(infant, pd.to_datetime(birth.dt.year.astype("Int64").astype(str) + "-01-01", errors="coerce"))
    return d.mask(on_death, death.dt.to_period("M").dt.to_timestamp())


def _observation_values(df: pd.DataFrame, code: pd.Series) -> np.ndarray:
    """Numeric VALUEs as floats, the coded text answers of :data:`SAFE_TEXT_OBSERVATIONS` as strings, else NaN."""
    value = df["VALUE"].fillna("")
    numeric = df["TYPE"].fillna("").eq("numeric") if "TYPE" in df else pd.Series(True, index=df.index)
    num = pd.to_numeric(value.where(numeric), errors="coerce")
    out = np.array(num.to_numpy(dtype=float), dtype=object)
    safe = (code.isin(SAFE_TEXT_OBSERVATIONS) & ~numeric & value.ne("")).to_numpy()
    out[safe] = value.to_numpy()[safe]
    return out


def _read_csv(path: Path, wanted: tuple[str, ...], required: tuple[str, ...]) -> pd.DataFrame:
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise IngestError(f"not a CSV file with a header row: {e}", str(path), 1) from e
    missing = [c for c in required if c not in header]
    if missing:
        raise IngestError(f"missing column(s) {missing}; is this a Synthea CSV export?", str(path), 1)
    cols = [c for c in wanted if c in header]
    try:
        return pd.read_csv(path, usecols=cols, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise IngestError(f"malformed CSV: {e}", str(path)) from e


def read_synthea(directory: str | Path, pseudonym: Callable[[str], str],
                 files: tuple[str, ...] | None = None) -> SyntheaTables:
    """Read the export in ``directory`` (``patients``, ``conditions``, ``medications`` required).

    Args:
        pseudonym: source patient id -> pseudonym (keyed hash).
        files: optional files to read besides the required ones (default: all present).

    Raises:
        IngestError: the folder or a required file is missing, a header lacks a needed
            column, or ``patients.csv`` has a duplicate or empty id (with its line).
    """
    d = Path(directory)
    if not d.is_dir():
        raise IngestError("Synthea export folder not found", str(d))
    for name in REQUIRED_FILES:
        if not (d / name).exists():
            raise IngestError(f"required Synthea file {name} is missing (need {', '.join(REQUIRED_FILES)})", str(d / name))
    reports: dict[str, FileReport] = {}
    try:
        header = set(pd.read_csv(d / "patients.csv", nrows=0).columns)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise IngestError(f"not a CSV file with a header row: {e}", str(d / "patients.csv"), 1) from e
    # a Synthea export has BIRTHDATE; a PHI-stripped sample (as shipped) only BIRTH_YEAR / DEATH_YEAR
    years_only = "BIRTHDATE" not in header and "BIRTH_YEAR" in header
    p = _read_csv(d / "patients.csv", _PATIENT_COLUMNS, ("Id", "BIRTH_YEAR" if years_only else "BIRTHDATE", "GENDER"))
    if years_only:
        p["BIRTHDATE"] = p["BIRTH_YEAR"].where(p["BIRTH_YEAR"].fillna("").str.fullmatch(r"\d{4}")) + "-07-01"
        p["DEATHDATE"] = (p["DEATH_YEAR"].where(p["DEATH_YEAR"].fillna("").str.fullmatch(r"\d{4}")) + "-07-01"
                          if "DEATH_YEAR" in p else None)
    rep = FileReport("patients.csv", read=len(p))
    lines = np.arange(len(p)) + 2
    ids = p["Id"].fillna("")
    dup = ids.duplicated() & (ids != "")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise IngestError(f"duplicate patient Id (row {i + 1} repeats an earlier one)", str(d / "patients.csv"), i + 2)
    birth = _dates(p["BIRTHDATE"])
    death = _dates(p["DEATHDATE"]) if "DEATHDATE" in p else pd.Series(pd.NaT, index=p.index)
    sex = p["GENDER"].fillna("").str.upper()
    bad_id = (ids == "").to_numpy()
    bad_birth = birth.isna().to_numpy() & ~bad_id
    bad_sex = ~sex.isin(["M", "F"]).to_numpy() & ~bad_id & ~bad_birth
    rep.reject(lines[bad_id], "empty Id")
    rep.reject(lines[bad_birth], "BIRTH_YEAR is not a year" if years_only else "BIRTHDATE is not a YYYY-MM-DD date")
    rep.reject(lines[bad_sex], "GENDER must be M or F")
    ok = ~(bad_id | bad_birth | bad_sex)
    src = ids[ok].tolist()
    pids = [pseudonym(s) for s in src]
    patients = pd.DataFrame({
        "pid": pids,
        "birth_year": birth[ok].dt.year.astype(int).to_numpy(),
        "death_year": death[ok].dt.year.to_numpy(dtype=float),
        "sex": sex[ok].to_numpy(),
    })
    rep.written = len(patients)
    reports["patients.csv"] = rep
    to_pid = dict(zip(src, pids))
    source_ids = dict(zip(pids, src))
    birth_of = dict(zip(src, birth[ok]))
    death_of = dict(zip(src, death[ok]))
    del p, birth, death, ids

    names = list(REQUIRED_FILES[1:]) + [f for f in OPTIONAL_FILES if (d / f).exists() and (files is None or f in files)]
    events: dict[str, pd.DataFrame] = {}
    for name in names:
        cols = _EVENT_COLUMNS[name]
        date_col = "DATE" if "DATE" in cols else "START"
        df = _read_csv(d / name, cols, (date_col, "PATIENT", "CODE"))
        rep = FileReport(name, read=len(df))
        lines = np.arange(len(df)) + 2
        pid = df["PATIENT"].map(to_pid)
        start = _dates(df[date_col])
        code = df["CODE"].fillna("")
        no_pid = pid.isna().to_numpy()
        bad_start = start.isna().to_numpy() & ~no_pid
        bad_code = (code == "").to_numpy() & ~no_pid & ~bad_start
        rep.reject(lines[no_pid], "PATIENT is not a patient in patients.csv")
        rep.reject(lines[bad_start], f"{date_col} is not a date")
        rep.reject(lines[bad_code], "empty CODE")
        ok = ~(no_pid | bad_start | bad_code)
        b = df["PATIENT"][ok].map(birth_of)
        dd = df["PATIENT"][ok].map(death_of)
        stop = _dates(df["STOP"])[ok] if "STOP" in df else pd.Series(pd.NaT, index=b.index)
        out = pd.DataFrame({"pid": pid[ok].to_numpy(), "start": _blur(start[ok], b, dd).to_numpy(),
                            "stop": _blur(stop, b, dd).to_numpy(),
                            "code": code[ok].to_numpy(),
                            "description": df["DESCRIPTION"].fillna("")[ok].to_numpy() if "DESCRIPTION" in df else ""})
        for extra, col in (("REASONCODE", "reason_code"), ("SYSTEM", "system"), ("CATEGORY", "category"),
                           ("ENCOUNTERCLASS", "encounter_class")):
            if extra in df:
                out[col] = df[extra].fillna("")[ok].to_numpy()
        if "VALUE" in df:
            out["value"] = _observation_values(df[ok], code[ok])
        rep.written = len(out)
        reports[name] = rep
        events[name.removesuffix(".csv")] = out
    return SyntheaTables(d, patients, events, reports, source_ids)
