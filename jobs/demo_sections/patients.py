"""``medkg demo`` section: one synthetic patient's timeline, predicted next conditions with their "because",
and recommended drugs with safety flags, all read back from the graph in ONE Cypher query.

Uses the shipped PHI-free Synthea sample (``ingest/data/synthea-sample``) and the shipped sequence model;
no Java needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import click

from graph_engine.predictions import PredictionKind, replace_predictions
from graph_engine.runs import open_run
from ingest.demo import DATA_DIR

RECOMMENDATION = PredictionKind(label="Recommendation", kind=None, for_label="Patient", for_rel="FOR",
                                object_label="Drug", object_rel="RECOMMENDS", scope=("method",))
METHOD = "history-cf"

#: the one query of the demo (also in README): timeline, predictions and recommendations of a patient
PATIENT_QUERY = """MATCH (p:Patient {id: $id})
CALL { WITH p
  MATCH (p)-[h:HAS_CONDITION]->(d:Disease)
  WITH h, d ORDER BY h.start
  RETURN collect(h.start + '  ' + d.name + CASE WHEN h.stop IS NULL THEN ' (ongoing)' ELSE '' END) AS timeline }
CALL { WITH p
  MATCH (x:Prediction {kind: 'next_condition'})-[:FOR]->(p), (x)-[:PREDICTS]->(d:Disease)
  WITH x, d ORDER BY x.probability DESC
  RETURN collect({disease: d.name, probability: round(x.probability, 4), explanation: x.explanation}) AS predicted }
CALL { WITH p
  MATCH (r:Recommendation {method: $method})-[:FOR]->(p), (r)-[:RECOMMENDS]->(c:Drug)
  WITH r, c ORDER BY r.rank
  RETURN collect({drug: coalesce(c.name, c.id), for: r.condition, rank: r.rank, flags: r.flags}) AS recommended }
RETURN p.id AS patient, p.birth_year AS birth_year, p.sex AS sex, timeline, predicted, recommended"""


def sample_dir() -> Path:
    return DATA_DIR / "synthea-sample"


def code_names(tables: Any) -> dict[str, str]:
    """``{"SNOMEDCT:<code>" | "RXNORM:<code>": description}`` of an export's conditions, procedures and
    medications (the token names of a prediction's "because"), semantic tags stripped."""
    from graph_engine.synthea import strip_tag

    out: dict[str, str] = {}
    for table, system in (("conditions", "SNOMEDCT"), ("procedures", "SNOMEDCT"), ("medications", "RXNORM")):
        df = tables.table(table).drop_duplicates("code")
        out.update((f"{system}:{c}", strip_tag(str(d))) for c, d in zip(df["code"], df["description"]))
    return out


def demo_condition(rec: Any, state: dict[str, Any], interactions: dict[str, set[str]], top: int,
                   ongoing: Iterable[str] = ()) -> str:
    """The patient's condition to recommend for: one with drugs to recommend (evidence-backed, not taken, not
    allergic), an ongoing one first, then the most drugs, then the smallest code; the recommender's first
    condition when none of the patient's has any."""
    best: tuple[bool, int, str] | None = None
    ongoing = set(ongoing)
    for c in sorted(state["codes"]):
        if c in rec.by_reason:
            n = len(rec.recommend(c, state["current"], state["codes"], state["allergies"], interactions, k=top))
            if n and (best is None or (c in ongoing, n) > best[:2]):
                best = (c in ongoing, n, c)
    return best[2] if best else str(rec.conditions()[0])


def demo_section(client: Any, top: int = 5) -> None:
    from ingest.synthea.graph import import_synthea
    from jobs.patient_recs import fit_from_graph, patient_state
    from models.sequence.api import load_sequence_model, read_cohort
    from models.sequence.writeback import write_condition_predictions

    d = sample_dir()
    click.echo(f"\n== Patient histories: shipped Synthea sample ({d.name}; synthetic, PHI stripped)")
    summary = import_synthea(client, d, progress=False)
    click.echo("\n".join(summary.render().splitlines()[-5:]))
    model = load_sequence_model()
    cohort = read_cohort(d)
    as_of, names = str(cohort.end_date), code_names(cohort)
    s = write_condition_predictions(client, model, d, as_of, top=top)
    click.echo(f"next-condition predictions (as of {as_of}, {model.name} {model.model_version}): run {s['run_id']}, "
               f"{s['written']} Prediction nodes")
    rec, inter = fit_from_graph(client)
    # the demo patient: the one with the longest condition history who has a prescribing condition
    pid = client.read("MATCH (p:Patient {synthetic: true})-[h:HAS_CONDITION]->() RETURN p.id AS id, count(h) AS n "
                      "ORDER BY n DESC, id LIMIT 1")[0]["id"]
    st = patient_state(client, pid)
    ongoing = {r["code"] for r in client.read(
        "MATCH (:Patient {id: $id})-[h:HAS_CONDITION]->() WHERE h.stop IS NULL "
        "UNWIND coalesce(h.codes, [h.code]) AS code RETURN DISTINCT code", {"id": pid})}
    cond = demo_condition(rec, st, inter, top, ongoing)
    recs = rec.recommend(cond, st["current"], st["codes"], st["allergies"], inter, k=top, on_conflict="flag")
    rows = [{"id": f"{METHOD}:{pid}:{cond}:{r.drug}", "for": pid, "object": r.drug,
             "props": {"method": METHOD, "score": r.score, "rank": r.rank, "condition": f"SNOMEDCT:{cond}",
                       "flags": r.flags}} for r in recs]
    with open_run(client, "recommend", METHOD, {"patient_condition": True, "k": top}) as run:
        replace_predictions(client, run.id, RECOMMENDATION, [pid], rows)
    click.echo(f"\nOne Cypher query for patient {pid}:\n{PATIENT_QUERY}\n")
    r = client.query(PATIENT_QUERY, {"id": pid, "method": METHOD})[0]
    click.echo(f"patient {r['patient']} (synthetic), born {r['birth_year']}, sex {r['sex']}")
    click.echo("timeline (first onset, condition):")
    for line in r["timeline"][-12:]:
        click.echo(f"  {line}")
    click.echo("predicted next conditions (365 days):")
    for x in r["predicted"]:
        because = json.loads(x["explanation"])["because"] if x["explanation"] else []
        click.echo(f"  {x['probability']:.3f}  {x['disease']}   because "
                   f"{'; '.join(names.get(b, b) for b in because) or '-'}")
    click.echo(f"recommended drugs for SNOMEDCT:{cond} ({names.get(f'SNOMEDCT:{cond}', 'not in the sample')}; "
               "only drugs prescribed for it, not already taken; safety flags shown):")
    for x in r["recommended"]:
        flags = f"  FLAGGED {', '.join(x['flags'])}" if x["flags"] else ""
        click.echo(f"  {x['rank']}. {x['drug']}{flags}")
