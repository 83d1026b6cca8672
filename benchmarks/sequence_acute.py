"""Choose (or score) the weight of the age band x sex rate for acute disorders in the next-condition model.

    python -m benchmarks.sequence_acute --validation runs/tx5 [--model DIR] [--weights 0,0.25,0.5,0.75,1] [--write]
    python -m benchmarks.sequence_acute --score runs/oh23 [--model DIR]

``SequenceConfig.acute_agesex_weight`` (README, "Patient histories") blends, for acute disorders only, the network's
probability with the training cohort's age band x sex onset rate in logit space. This script scores every weight on
one cohort cut at its export end minus the horizon (the issue-22 protocol: recall@10 with present disorders removed,
macro risk AUROC over disorders with >= 5 onsets, chronic / acute, a paired patient bootstrap of the macro AUROC
minus the age-sex baseline's). With ``--validation`` it picks the weight with the best macro AUROC among those
whose recall@10 is at least the population baseline's + 0.05 (ties: the smaller weight) and, with ``--write``,
records it in the artifact's manifest (``model.acute_agesex_weight``, a ``-acute<w>`` suffix on the model version,
the validation table under ``acute_weight_choice``) and model card. The validation cohort must be of another
state (and seed) than the training cohort and than any cohort used as a test; ``--score`` reports a test cohort
at the model's recorded weight and at 0, choosing nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch


def score_weights(model: Any, data: Path, weights: list[float], boot: int = 200) -> dict[str, Any]:
    from models.sequence.api import _summ, bootstrap_auroc_difference, fingerprint, ranking_metrics, read_cohort

    tables = read_cohort(data)
    cut = tables.end_date - np.timedelta64(model.cfg.horizon_days, "D")
    s = model.samples(tables, cut)
    base = model.baselines.scores(s)
    out: dict[str, Any] = {"data": str(data), "data_sha256": fingerprint(data), "as_of": str(cut), "patients": len(s),
                           "baselines": {k: _summ(ranking_metrics(v, s, groups=model.groups)) for k, v in base.items()},
                           "weights": {}}
    keep = model.cfg.acute_agesex_weight
    try:
        model.cfg.acute_agesex_weight = 0.0
        network = model.probabilities(s)  # one forward pass; each weight only re-blends the acute columns
        for w in weights:
            model.cfg.acute_agesex_weight = w
            p = model.blend_acute(network, s.age, s.sex)
            m = _summ(ranking_metrics(p, s, groups=model.groups))
            m["minus_age_sex"] = bootstrap_auroc_difference(p, base["age_sex"], s, model.groups, n_boot=boot)
            out["weights"][str(w)] = m
    finally:
        model.cfg.acute_agesex_weight = keep
    return out


def choose(table: dict[str, Any]) -> float:
    floor = table["baselines"]["population"]["recall@10"] + 0.05
    ok = {float(w): m for w, m in table["weights"].items() if m["recall@10"] >= floor}
    if not ok:
        return 0.0
    return max(sorted(ok), key=lambda w: (round(ok[w]["macro_auroc"], 4), -w))


def record(directory: Path, weight: float, table: dict[str, Any]) -> dict[str, Any]:
    """Write ``weight`` into the artifact's manifest and model card (the weights files are unchanged)."""
    from models.artifacts import MANIFEST, read_manifest

    manifest = read_manifest(directory)
    base_version = manifest.get("acute_weight_choice", {}).get("base_model_version", manifest["model_version"])
    manifest["model"]["acute_agesex_weight"] = weight
    manifest["model_version"] = base_version if not weight else f"{base_version}-acute{weight:g}"
    manifest["acute_weight_choice"] = {"base_model_version": base_version, "chosen": weight,
                                       "rule": "best macro AUROC with recall@10 >= population + 0.05 (ties: smaller)",
                                       "validation": table}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    card = directory / "MODEL_CARD.md"
    text = card.read_text(encoding="utf-8").split("\n## Acute disorders", 1)[0].rstrip("\n")
    rows = ["", "## Acute disorders: age band x sex weight", "",
            f"Acute disorders are scored with weight {weight:g} on the training cohort's age band x sex onset rate "
            "(logit blend with the network; 0 = network only). Chosen on a validation cohort of another state: "
            f"`{table['data']}` ({table['patients']} patients, as of {table['as_of']}, sha256 {json.dumps(table['data_sha256'])}).", "",
            "| weight | recall@10 | macro AUROC | chronic | acute |", "|---|---|---|---|---|"]
    for w, m in table["weights"].items():
        rows.append(f"| {w} | {m['recall@10']:.3f} | {m['macro_auroc']:.3f} | {m.get('macro_auroc_chronic') or 0:.3f} | "
                    f"{m.get('macro_auroc_acute') or 0:.3f} |")
    a = table["baselines"]["age_sex"]
    rows.append(f"| age band x sex baseline | {a['recall@10']:.3f} | {a['macro_auroc']:.3f} | "
                f"{a.get('macro_auroc_chronic') or 0:.3f} | {a.get('macro_auroc_acute') or 0:.3f} |")
    lines = text.split("\n")
    if lines and lines[0].startswith("# Model card:"):
        lines[0] = f"# Model card: {manifest['name']} {manifest['model_version']}"
    card.write_text("\n".join(lines) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    from models.sequence.api import load_sequence_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--validation", type=Path, help="a cohort of another state than the training (and test) cohorts: choose")
    g.add_argument("--score", type=Path, help="a test cohort: score the recorded weight and 0, choose nothing")
    ap.add_argument("--weights", default="0,0.25,0.5,0.75,1")
    ap.add_argument("--write", action="store_true", help="record the chosen weight in the artifact (with --validation)")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = load_sequence_model(a.model)
    if a.validation:
        table = score_weights(model, a.validation, [float(w) for w in a.weights.split(",")])
        table["chosen"] = choose(table)
        if a.write:
            from models.artifacts import default_artifact_dir

            record(a.model or default_artifact_dir("sequence"), table["chosen"], table)
    else:
        table = score_weights(model, a.score, sorted({0.0, float(model.cfg.acute_agesex_weight)}))
    text = json.dumps(table, indent=1, default=float)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")
    for w, m in table["weights"].items():
        d = m["minus_age_sex"]["all"]
        print(f"w={w}: recall@10 {m['recall@10']:.4f} macro {m['macro_auroc']:.4f} chronic {m.get('macro_auroc_chronic') or 0:.4f} "
              f"acute {m.get('macro_auroc_acute') or 0:.4f}  minus age-sex {d['difference']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]")
    for k, m in table["baselines"].items():
        print(f"{k}: recall@10 {m['recall@10']:.4f} macro {m['macro_auroc']:.4f} chronic {m.get('macro_auroc_chronic') or 0:.4f} "
              f"acute {m.get('macro_auroc_acute') or 0:.4f}")
    if "chosen" in table:
        print("chosen:", table["chosen"])


if __name__ == "__main__":
    main()
