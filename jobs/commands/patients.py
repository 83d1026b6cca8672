"""CLI commands for patient histories (Synthea).

    medkg synthea generate --patients N --seed S [--state NAME] --output DIR
    medkg ingest patients --format synthea --input DIR [--batch-size N] [--quiet]
"""

from __future__ import annotations

from pathlib import Path

import click

from jobs.errors import handle_errors
from jobs.groups import subgroup


@click.group("synthea")
def synthea_group() -> None:
    """Synthetic patient histories with Synthea (downloaded from Maven Central on first use)."""


@synthea_group.command("generate")
@click.option("--patients", type=click.IntRange(min=1), required=True, help="Living patients to generate.")
@click.option("--seed", type=int, required=True, help="Random seed (population and clinicians).")
@click.option("--state", default="Massachusetts", show_default=True, help="US state whose demographics to use.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the CSV export (must not hold one yet).")
@handle_errors
def synthea_generate(patients: int, seed: int, state: str, output: Path) -> None:
    """Generate a Synthea cohort as CSV (runs offline after the first download)."""
    from graph_engine.settings import Settings
    from ingest.synthea.provision import Synthea

    syn = Synthea(Settings.load())
    if not syn.provisioned:
        click.echo(f"Downloading Synthea {syn.version} from Maven Central into {syn.root} (once, ~200 MB) ...", err=True)
    cohort = syn.generate(patients, seed, output, state=state)
    click.echo(f"{cohort.patients} patients (seed {cohort.seed}, {cohort.state}, Synthea {cohort.version}) -> {cohort.directory}")


def register(root: click.Group) -> None:
    root.add_command(synthea_group)
    subgroup(root, "evaluate").add_command(evaluate_patient_recommend)
    ingest = subgroup(root, "ingest")

    @ingest.command("patients")
    @click.option("--format", "fmt", type=click.Choice(["synthea"]), required=True)
    @click.option("--input", "input_dir", type=click.Path(path_type=Path), required=True,
                  help="A Synthea CSV export folder (patients.csv, conditions.csv, medications.csv, ...).")
    @click.option("--batch-size", type=int, default=None, help="Rows per write transaction.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @handle_errors
    def ingest_patients(fmt: str, input_dir: Path, batch_size: int | None, quiet: bool) -> None:
        """Import patient histories (pseudonymised, no PHI) into the graph."""
        from ingest.synthea.graph import import_synthea
        from jobs.context import open_client

        with open_client() as g:
            summary = import_synthea(g, input_dir, batch_size=batch_size, progress=not quiet)
        click.echo(summary.render())


@click.command("patient-recommend")
@click.option("--train", "train_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Synthea export to fit on")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Synthea export to evaluate on (another seed and state)")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="default: the export's end minus 365 days")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def evaluate_patient_recommend(train_dir: Path, data_dir: Path, as_of: str | None, as_json: bool) -> None:
    """Hits@5/10 and MRR of patient x condition drug recommendations against what was prescribed (REASONCODE)."""
    import json

    from graph_engine.synthea import Pseudonymizer, read_synthea
    from jobs.patient_recs import default_linker, evaluate_patient_recommendations

    files = ("patients.csv", "conditions.csv", "medications.csv", "allergies.csv")
    local = Pseudonymizer(b"medkg-evaluation-local-pseudonyms")
    linker = default_linker()
    out = evaluate_patient_recommendations(read_synthea(train_dir, local, files=files),
                                           read_synthea(data_dir, local, files=files), linker, as_of)
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{out['cases']} new diagnoses with a prescription for them after {out['as_of']} "
               f"({out['conditions_unseen_in_training']} for conditions never treated in the training export)")
    for m in ("model", "condition_frequency", "popularity"):
        r = out[m]
        click.echo(f"{m:<20} hits@5 {r['hits@5']:.4f}  hits@10 {r['hits@10']:.4f}  MRR {r['mrr']:.4f}")
