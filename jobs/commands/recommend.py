"""CLI commands for the recommend capability.

    medkg recommend fit [--method M] [--seed S] [--hetionet DIR]
    medkg recommend --disease ID [-k N | --all] [--method M] [--json]
    medkg recommend --patient ID [-k N] [--patients-file F] [--on-conflict remove|flag] [--json]
    medkg enrich recommend [--method M] [-k N] [--patients] [--no-explain]
    medkg evaluate recommend [--source hetionet|neo4j] [--methods ...] [--seeds 0,1,2] [--out FILE]

Each command calls one function of :mod:`recommend.api` / :mod:`recommend.evaluate`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from jobs.errors import fail
from jobs.groups import subgroup


def _default_hetionet() -> str:
    from recommend.hetionet_tables import default_hetionet_dir

    return str(default_hetionet_dir())


def _settings() -> Any:
    from graph_engine.settings import Settings

    return Settings.load()


def _open_client() -> Any:
    from jobs.context import open_client  # the CLI owns driver creation

    return open_client()


@click.group("recommend", invoke_without_command=True)
@click.option("--disease", "diseases", multiple=True, metavar="ID", help="Disease id (repeatable).")
@click.option("--patient", "patient", default=None, metavar="ID", help="Patient id (pseudonym).")
@click.option("-k", "--k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Drugs per target.")
@click.option("--all", "all_drugs", is_flag=True, help="Score every candidate drug (disease only).")
@click.option("--method", default=None, help="Recommender name (default: the last fitted model).")
@click.option("--json", "as_json", is_flag=True, help='One JSON object per line: {"target","drug","score","rank"}.')
@click.option("--explain/--no-explain", default=False, help="Print the top supporting paths (text output).")
@click.option("--exclude-known", is_flag=True, help="Leave out drugs already known to treat the disease.")
@click.option("--patients-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Read the patient from this JSONL file instead of the graph.")
@click.option("--on-conflict", type=click.Choice(["remove", "flag"]), default="remove", show_default=True,
              help="Drop or flag drugs that interact with current drugs / cause avoided side effects.")
@click.option("--condition", default=None, metavar="CODE",
              help="With --patient: drugs for this SNOMED CT condition, learnt from the graph's patient histories.")
@click.pass_context
def recommend_group(ctx: click.Context, diseases: tuple[str, ...], patient: str | None, k: int, all_drugs: bool,
                    method: str | None, as_json: bool, explain: bool, exclude_known: bool,
                    patients_file: str | None, on_conflict: str, condition: str | None) -> None:
    """Recommend drugs for diseases or a patient with the last fitted model (`recommend fit` fits one)."""
    if ctx.invoked_subcommand is not None:
        return
    if not diseases and not patient:
        click.echo(ctx.get_help())
        return
    if condition:
        if not patient:
            raise click.UsageError("--condition needs --patient")
        return _patient_condition(patient, condition, k, on_conflict, as_json)
    from recommend import api
    from graph_engine.errors import MedkgError

    try:
        models_dir = _settings().models_dir
        model = api.load_model(models_dir, method)
        if diseases:
            rows = api.disease_rows(model, list(diseases), k=None if all_drugs else k, exclude_known=exclude_known)
            for r in rows:
                if as_json:
                    click.echo(json.dumps(r))
                else:
                    click.echo(f"{r['target']}\t{r['rank']}\t{r['drug']}\t{r['score']:.6g}")
                    if explain and r["rank"] <= k:
                        for p in model.explain(r["target"], r["drug"], top=3).paths:
                            click.echo(f"\t\t{p.text()}")
        if patient:
            from recommend.patients import read_patients

            if patients_file:
                found = [p for p in read_patients(patients_file) if p.id == patient]
                if not found:
                    raise click.ClickException(f"patient {patient!r} is not in {patients_file}")
                pat = found[0]
                risks = None
            else:
                from recommend.patients import PredictedRisks

                with _open_client() as client:
                    pat = api.patient_from_graph(client, patient)
                    risks = PredictedRisks.from_graph(client)  # toxicity Prediction nodes: flags, never removal
            res = api.patient_result(model, api.load_safety(models_dir).with_predicted_risks(risks), pat, k=k,
                                     on_conflict=on_conflict)
            if res.skipped_conditions:
                click.echo(f"note: conditions unknown to the model: {', '.join(res.skipped_conditions)}", err=True)
            for it in res.items:
                if as_json:
                    click.echo(json.dumps({"target": pat.id, "drug": it.drug, "score": it.score, "rank": it.rank,
                                           "flags": it.flags, "flag_evidence": it.flag_evidence}))
                else:
                    flag = f"\tFLAGGED: {', '.join(it.flags)}" if it.flags else ""
                    click.echo(f"{pat.id}\t{it.rank}\t{it.drug}\t{it.score:.6g}{flag}")
                    for line in evidence_lines(it.flag_evidence):
                        click.echo(f"\t\t{line}")
            if res.removed:
                click.echo(f"note: {res.removed} drugs removed by the safety filter", err=True)
                for it in res.removed_items[:10]:
                    click.echo(f"removed {it.drug}: {', '.join(it.flags)}", err=True)
                    for line in evidence_lines(it.flag_evidence):
                        click.echo(f"\t{line}", err=True)
                if len(res.removed_items) > 10:
                    click.echo(f"... and {len(res.removed_items) - 10} more removed", err=True)
    except MedkgError as e:
        fail(e)


def evidence_lines(flag_evidence: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One line per piece of evidence behind each ``interacts_with`` flag."""
    out = []
    for flag, items in flag_evidence.items():
        for e in items:
            if e["source"] == "text":
                where = f"text, {e['pmid']}" if e.get("pmid") else "text"
                conf = f", confidence {e['confidence']:.2f}" if e.get("confidence") is not None else ""
                kind = f", {e['interaction_type']}" if e.get("interaction_type") else ""
                sent = f": \"{e['sentence']}\"" if e.get("sentence") else ""
                out.append(f"{flag} [{where}{conf}{kind}]{sent}")
            else:
                kind = f", {e['interaction_type']}" if e.get("interaction_type") else ""
                out.append(f"{flag} [curated: {e['source']}{kind}]")
    return out


def _patient_condition(patient: str, condition: str, k: int, on_conflict: str, as_json: bool) -> None:
    from graph_engine.errors import MedkgError
    from jobs.patient_recs import recommend_for_condition

    try:
        with _open_client() as client:
            rows = recommend_for_condition(client, patient, condition, k=k, on_conflict=on_conflict)
    except MedkgError as e:
        fail(e)
    if not rows:  # every drug prescribed for the condition is taken already (or allergic): nothing is padded in
        click.echo(f"no drug with evidence for {condition} is left for {patient}: the patient takes them already "
                   "or is allergic to them", err=True)
    for r in rows:
        if as_json:
            click.echo(json.dumps(r))
        else:
            flag = f"\tFLAGGED: {', '.join(r['flags'])}" if r["flags"] else ""
            click.echo(f"{r['target']}\t{r['condition']}\t{r['rank']}\t{r['drug']}\t{r['name'] or ''}\t{r['score']:.4g}{flag}")
            for line in evidence_lines(r.get("flag_evidence") or {}):
                click.echo(f"\t\t{line}")


@recommend_group.command("fit")
@click.option("--method", default="hybrid", show_default=True, help="Recommender name.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--hetionet", "hetionet_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Fit on the Hetionet files in this folder instead of the graph in Neo4j.")
@click.option("--embeddings", default=None,
              help="For gnn / hybrid: node embeddings .npz, or 'train' to train GraphSAGE on this graph.")
@click.option("--embedding-config", default=None, help="JSON object of EmbeddingConfig fields for --embeddings train.")
@click.option("--min-text-confidence", type=click.FloatRange(0.0, 1.0), default=None,
              help="Safety index: confidence a text-mined-only INTERACTS_WITH needs to count (curated ones always "
                   "count) [default: recommend.patients.DEFAULT_MIN_TEXT_CONFIDENCE]. Graph only.")
def recommend_fit(method: str, seed: int, hetionet_dir: str | None, embeddings: str | None,
                  embedding_config: str | None, min_text_confidence: float | None) -> None:
    """Fit a recommender on the graph (Neo4j by default) and save it under the models directory.

    From the graph, the safety index reads INTERACTS_WITH with its properties: curated interactions always
    count, text-mined-only ones from --min-text-confidence up, and each keeps its evidence (source, PMID,
    sentence, confidence, interaction type) for the flags of `medkg recommend --patient`.
    """
    from graph_engine.errors import MedkgError
    from recommend import api
    from recommend.patients import DEFAULT_MIN_TEXT_CONFIDENCE

    params = (_embedding_params(embeddings, embedding_config) or {}).get(method, {})
    if embeddings and not params:
        raise click.BadParameter(f"--embeddings applies to the gnn and hybrid methods, not {method!r}")
    if hetionet_dir and min_text_confidence is not None:
        raise click.UsageError("--min-text-confidence applies to the graph (text-mined interactions), not --hetionet")
    safety = None
    try:
        if hetionet_dir:
            from recommend.data import EXPORT_LABELS
            from recommend.hetionet_tables import read_hetionet

            tables = read_hetionet(hetionet_dir, labels=EXPORT_LABELS)
        else:
            with _open_client() as client:
                tables = api.export_for_recommend(client)
                params = api.graph_params(client, method, params)
                thr = DEFAULT_MIN_TEXT_CONFIDENCE if min_text_confidence is None else min_text_confidence
                safety = api.safety_from_graph(client, thr)
        path = api.fit_and_save(tables, method, _settings().models_dir, seed=seed, safety=safety, **params)
    except MedkgError as e:
        fail(e)
    click.echo(f"fitted {method!r} on {tables.num_nodes} nodes / {tables.num_edges} edges -> {path}")
    if safety is not None:
        n = len(safety.evidence)
        text = sum(1 for ev in safety.evidence.values() if all(e["source"] == "text" for e in ev))
        click.echo(f"safety index: {n} interacting pairs ({n - text} curated, {text} text-mined only with "
                   f"confidence >= {safety.min_text_confidence:g})")


@click.command("recommend")
@click.option("--method", default=None, help="Recommender name (default: the last fitted model).")
@click.option("-k", "--k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--patients", "with_patients", is_flag=True, help="Also write recommendations for every Patient.")
@click.option("--explain/--no-explain", default=True, show_default=True, help="Store explanations on the nodes.")
def enrich_recommend(method: str | None, k: int, with_patients: bool, explain: bool) -> None:
    """Write (:Recommendation) nodes for every disease (and patient), replacing the previous run's.

    With ``--patients`` a patient none of whose conditions the model knows is skipped with
    the reason (on stderr) and counted; the others are written.
    """
    from graph_engine.errors import MedkgError, RecommendError
    from graph_engine.runs import open_run
    from recommend import api
    from recommend.cypher import LIST_PATIENTS
    from recommend.writeback import run_writeback, write_recommendations

    try:
        models_dir = _settings().models_dir
        model = api.load_model(models_dir, method)
        with _open_client() as client:
            run_id, n = run_writeback(client, model, list(map(str, model._data().disease_ids)), k=k, explain=explain)
            click.echo(f"run {run_id}: {n} recommendations for {model._data().n_diseases} diseases")
            if with_patients:
                safety = api.load_safety(models_dir)
                ids = [r["id"] for r in client.read(LIST_PATIENTS, {})]
                rows: list[dict[str, Any]] = []
                skipped: list[tuple[str, str]] = []
                with open_run(client, "recommend", f"{model.name}:patients", {"k": k, "patients": len(ids)}) as prun:
                    for pid in ids:
                        try:  # one patient the model cannot serve is skipped with its reason, not the batch
                            res = api.patient_result(model, safety, api.patient_from_graph(client, pid), k=k)
                        except RecommendError as e:
                            skipped.append((pid, str(e)))
                            continue
                        for it in res.items:
                            rows.append({"id": f"{prun.id}:{model.name}:{pid}:{it.drug}", "target": pid,
                                         "drug": it.drug, "score": it.score, "rank": it.rank, "method": model.name,
                                         "model": type(model).__name__, "model_version": model.model_version,
                                         "run_id": prun.id, "created_at": _now(), "explanation": "{}",
                                         "explanation_paths": [], "flags": it.flags})
                    # every listed patient is a target: a skipped one keeps no recommendation of an older run
                    m = write_recommendations(client, rows, model.name, "Patient", targets=ids)
                    prun.metrics.update(created=m, targets=len(ids), read=len(ids),
                                        written=len(ids) - len(skipped), skipped=len(skipped))
                click.echo(f"run {prun.id}: {m} recommendations for {len(ids) - len(skipped)} patients "
                           f"(read {len(ids)} = written {len(ids) - len(skipped)} + skipped {len(skipped)})")
                for pid, reason in skipped[:10]:
                    click.echo(f"skipped {reason}", err=True)
                if len(skipped) > 10:
                    click.echo(f"... and {len(skipped) - 10} more skipped", err=True)
    except MedkgError as e:
        fail(e)


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat()


def _embedding_params(embeddings: str | None, config: str | None) -> dict[str, dict[str, Any]] | None:
    """``--embeddings`` / ``--embedding-config`` as constructor parameters of ``gnn`` and ``hybrid``."""
    if config is not None and embeddings != "train":
        raise click.BadParameter("--embedding-config only applies with --embeddings train")
    if embeddings is None:
        return None
    p: dict[str, Any] = {"embeddings": embeddings}
    if embeddings != "train":
        if not Path(embeddings).is_file():
            raise click.BadParameter(f"--embeddings: {embeddings} is not a file (give an .npz file or 'train')")
    elif config is not None:
        try:
            cfg = json.loads(config)
        except json.JSONDecodeError as e:
            raise click.BadParameter(f"--embedding-config is not valid JSON ({e.msg} at column {e.colno})") from e
        if not isinstance(cfg, dict):
            raise click.BadParameter("--embedding-config must be a JSON object of EmbeddingConfig fields")
        from graph_engine.embeddings.train import EmbeddingConfig
        from graph_engine.errors import MedkgError

        try:
            EmbeddingConfig.from_dict(dict(cfg))  # unknown fields and bad values fail here, before any fit
        except (MedkgError, TypeError) as e:
            raise click.BadParameter(f"--embedding-config: {e}") from e
        p["embedding_config"] = cfg
    return {"gnn": p, "hybrid": p}


@click.command("recommend")
@click.option("--source", type=click.Choice(["hetionet", "neo4j"]), default="hetionet", show_default=True,
              help="Evaluate on the Hetionet files or on the live graph (client.export).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=_default_hetionet,
              show_default="$MEDKG_HETIONET_DIR, else ../shared/data/hetionet beside the checkout",
              help="Folder with the Hetionet nodes TSV and edges SIF (--source hetionet).")
@click.option("--methods", default=",".join(("random", "popularity", "cf", "cf-svd", "content", "imc", "ppr",
                                             "metapath", "gnn", "hybrid")), show_default=True)
@click.option("--splits", default="random-edge,held-out-disease", show_default=True)
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds (>= 3 for the table).")
@click.option("--test-frac", type=click.FloatRange(0.01, 0.9), default=0.2, show_default=True)
@click.option("--embeddings", default=None,
              help="Node embeddings for the gnn method and the hybrid's GNN signal: an .npz file, or 'train' to "
                   "train GraphSAGE on every training graph (each split, each of the hybrid's inner folds).")
@click.option("--embedding-config", default=None,
              help="JSON object of EmbeddingConfig fields for --embeddings train, e.g. "
                   "'{\"dim\": 64, \"epochs\": 5, \"batch_size\": 8192}' (device 'auto': CUDA when present).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the Markdown table here.")
@click.option("--json-out", type=click.Path(dir_okay=False), default=None, help="Write per-seed rows as JSON.")
def evaluate_recommend(source: str, data_dir: str, methods: str, splits: str, seeds: str, test_frac: float,
                       embeddings: str | None, embedding_config: str | None, out: str | None,
                       json_out: str | None) -> None:
    """Evaluate every recommender on leakage-safe splits; prints one Markdown table."""
    from graph_engine.errors import MedkgError
    from recommend import api
    from recommend.evaluate import evaluate, rows_as_dicts, summarize, to_markdown

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError as e:
        raise click.BadParameter(f"--seeds must be comma-separated integers, got {seeds!r}") from e
    params = _embedding_params(embeddings, embedding_config)
    try:
        if source == "hetionet":
            from recommend.data import EXPORT_LABELS
            from recommend.hetionet_tables import read_hetionet

            # the same labels the live export uses, so both sources see one graph
            tables = read_hetionet(data_dir, labels=EXPORT_LABELS)
        else:
            with _open_client() as client:
                tables = api.export_for_recommend(client)

        def progress(r: Any) -> None:
            shown = {k: round(v, 3) for k, v in r.metrics.items()} if r.status == "ok" else r.status
            click.echo(f"{r.split:>16} seed={r.seed} {r.method:>10}: {shown}", err=True)

        rows = evaluate(tables, methods=[m for m in methods.split(",") if m], splits=splits.split(","),
                        seeds=seed_list, test_frac=test_frac, params=params, progress=progress)
    except MedkgError as e:
        fail(e)
    table = to_markdown(summarize(rows))
    click.echo(table)
    if out:
        Path(out).write_text(table + "\n", encoding="utf-8")
    if json_out:
        Path(json_out).write_text(json.dumps(rows_as_dicts(rows), indent=1), encoding="utf-8")


def register(root: click.Group) -> None:
    """Add ``recommend`` (group + query command), ``enrich recommend`` and ``evaluate recommend``."""
    root.add_command(recommend_group)
    subgroup(root, "enrich").add_command(enrich_recommend)
    subgroup(root, "evaluate").add_command(evaluate_recommend)


if __name__ == "__main__":  # pragma: no cover - handy without the root CLI
    cli = click.Group("medkg")
    register(cli)
    cli(sys.argv[1:])
