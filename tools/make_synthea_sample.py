"""Make the shipped PHI-free Synthea sample (``ingest/data/synthea-sample``) from a Synthea export.

    python tools/make_synthea_sample.py SYNTHEA_DIR ingest/data/synthea-sample --seed S --state NAME

Keeps only what medkg reads: ``patients.csv`` becomes ``Id, BIRTH_YEAR, DEATH_YEAR, GENDER`` (no names,
SSNs, licences, passports, addresses, places, income or full dates); patient ids are replaced by
``sample-0001`` ...; the event files keep ``START, STOP, PATIENT, CODE, DESCRIPTION`` (+ ``REASONCODE``,
``SYSTEM``, ``CATEGORY``) and lose encounter, payer and cost columns.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

EVENTS = {
    "conditions.csv": ["START", "STOP", "PATIENT", "CODE", "DESCRIPTION"],
    "medications.csv": ["START", "STOP", "PATIENT", "CODE", "DESCRIPTION", "REASONCODE"],
    "procedures.csv": ["START", "PATIENT", "CODE", "DESCRIPTION"],
    "allergies.csv": ["START", "STOP", "PATIENT", "CODE", "SYSTEM", "DESCRIPTION", "CATEGORY"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--state", required=True)
    a = ap.parse_args()
    a.output.mkdir(parents=True, exist_ok=True)
    p = pd.read_csv(a.source / "patients.csv", usecols=["Id", "BIRTHDATE", "DEATHDATE", "GENDER"], dtype=str)
    ids = {src: f"sample-{i + 1:04d}" for i, src in enumerate(p["Id"])}
    out = pd.DataFrame({"Id": p["Id"].map(ids), "BIRTH_YEAR": p["BIRTHDATE"].str.slice(0, 4),
                        "DEATH_YEAR": p["DEATHDATE"].fillna("").str.slice(0, 4), "GENDER": p["GENDER"]})
    out.to_csv(a.output / "patients.csv", index=False)
    counts = {"patients.csv": len(out)}
    for name, cols in EVENTS.items():
        df = pd.read_csv(a.source / name, usecols=cols, dtype=str, keep_default_na=False)
        df["PATIENT"] = df["PATIENT"].map(ids)
        df = df[cols]
        df.to_csv(a.output / name, index=False)
        counts[name] = len(df)
    (a.output / "SOURCE.json").write_text(json.dumps({
        "generator": "Synthea 3.3.0 (org.mitre.synthea:synthea, Apache-2.0); output is synthetic",
        "command": f"medkg synthea generate --patients N --seed {a.seed} --state {a.state}",
        "seed": a.seed, "state": a.state, "rows": counts,
        "phi": "removed: names, SSN, driver's licence, passport, address, birthplace, income, full birth/death dates; "
               "patient ids replaced"}, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
