"""Extraction throughput: words/s and docs/s, dictionary-only vs dictionary+NER, 1 and 2 processes.

Usage::

    .venv/bin/python benchmarks/extract.py                        # BC5CDR train+dev abstracts, 2,000 docs per run
    .venv/bin/python benchmarks/extract.py --docs 100000 --modes dictionary --processes 1   # memory flatness

Documents are streamed (the corpus is cycled with fresh ids), so memory must
stay flat however many documents go through; RSS (this process plus workers)
is sampled every ``--sample-every`` documents and reported as start / peak /
end. Pipeline loading time is reported separately and not counted.

Dask (``--cluster local:1,local:2``): the same stream through
``ingest.text.distributed.extract_on_cluster`` on a fresh LocalCluster per spec,
after a single-process reference run in the same process; the workers build
their pipeline before the clock starts::

    .venv/bin/python benchmarks/extract.py --modes dictionary --docs 3000 --cluster local:1,local:2

Wall-clock rates depend on what else the machine runs; words per CPU-second
(this process and its workers) is the per-core figure the targets refer to.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Iterator

import psutil

# benchmarks/ingest.py would shadow the ``ingest`` package when this file is run as a script
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from ingest.text.pipeline import extract_documents, load_pipeline  # noqa: E402
from ingest.text.readers import ReadStats, read_documents  # noqa: E402
from ingest.text.records import Document  # noqa: E402

DEFAULT_INPUTS = [
    Path(__file__).resolve().parents[1] / "../shared/data/ner/BC5CDR_TrainingSet.PubTator.txt",
    Path(__file__).resolve().parents[1] / "../shared/data/ner/BC5CDR_DevelopmentSet.PubTator.txt",
]


def rss_mb() -> float:
    """Resident memory of this process and its children, in MiB."""
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def cpu_seconds() -> float:
    """CPU time of this process, its live workers and its finished (waited-for) workers."""
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in psutil.Process().children(recursive=True):
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.Error:
            pass
    return total


#: ``--distinct``: every abstract of these corpora once (BC5CDR train + dev, NCBI-disease train + dev)
DISTINCT_INPUTS = DEFAULT_INPUTS + [
    Path(__file__).resolve().parents[1] / "../shared/data/ner/NCBI_trainset_corpus.txt",
    Path(__file__).resolve().parents[1] / "../shared/data/ner/NCBI_developset_corpus.txt",
]


def stream(base: list[Document], n: int, cycle: bool = True, novel: float = 0.0) -> Iterator[Document]:
    """``n`` documents: the corpus cycled with fresh ids, or (``cycle=False``) each document once.

    ``novel``: that fraction of the words of every document is replaced by a string
    never seen before (seeded), as rare names keep appearing in real streams, so the
    memory trace shows what unbounded new vocabulary costs.
    """
    source = itertools.cycle(base) if cycle else iter(base)
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for k, d in enumerate(itertools.islice(source, n)):
        if novel:
            words = [w if rng.random() >= novel else "".join(rng.choices(letters, k=10)) for w in d.text.split(" ")]
            yield Document(id=f"{d.id}-{k}", text=" ".join(words), source=d.source)
        else:
            yield Document(id=f"{d.id}-{k}", text=d.text, title=d.title, source=d.source)


def distinct(docs: list[Document]) -> list[Document]:
    """The documents with distinct texts, in order."""
    seen: set[str] = set()
    out = []
    for d in docs:
        if d.text not in seen:
            seen.add(d.text)
            out.append(d)
    return out


def pipeline_for(mode: str, ner_model: str | None = None, gene_model: str | None = None):  # type: ignore[no-untyped-def]
    """The extraction pipeline of a mode: shipped models unless ``ner_model`` / ``gene_model`` name others."""
    if mode not in ("ner", "ner-linear"):
        return load_pipeline(ner=False, gene_ner=False)
    # ner-linear: the accurate mode with the linear INTERACTS_WITH model instead of the neural one
    return load_pipeline(ner=ner_model or True, gene_ner=gene_model or "auto", neural_relations=mode == "ner" and "auto")


def run(mode: str, n_process: int, base: list[Document], n_docs: int, batch_size: int, sample_every: int,
        cycle: bool = True, novel: float = 0.0, ner_model: str | None = None, gene_model: str | None = None) -> dict:
    t0 = time.perf_counter()
    nlp = pipeline_for(mode, ner_model, gene_model)
    load_s = time.perf_counter() - t0
    words = docs = mentions = relations = 0
    samples = [rss_mb()]
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    for d in extract_documents(nlp, stream(base, n_docs, cycle, novel), batch_size=batch_size, n_process=n_process):
        docs += 1
        words += len(d.text.split())
        mentions += len(d.mentions)
        relations += len(d.relations)
        if docs % sample_every == 0:
            samples.append(rss_mb())
    secs = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    samples.append(rss_mb())
    return {
        "mode": "dictionary+linking+relations" if mode == "dictionary" else "dictionary+NER+linking+relations"
        + (" (linear INTERACTS_WITH)" if mode == "ner-linear" else ""),
        "pipeline": nlp.pipe_names,
        "n_process": n_process,
        "docs": docs,
        "words": words,
        "seconds": round(secs, 2),
        "words_per_s": round(words / secs),
        "words_per_s_per_process": round(words / secs / n_process),
        "docs_per_s": round(docs / secs, 1),
        "cpu_seconds": round(cpu, 2),
        "words_per_cpu_s": round(words / cpu) if cpu else None,
        "docs_per_cpu_s": round(docs / cpu, 1) if cpu else None,
        "mentions": mentions,
        "relations": relations,
        "load_s": round(load_s, 1),
        "rss_mb_start": round(samples[0]),
        "rss_mb_peak": round(max(samples)),
        "rss_mb_end": round(samples[-1]),
        "rss_mb_trace": [round(x) for x in samples],
    }


def warm_workers(client, options: tuple) -> float:  # type: ignore[no-untyped-def]
    """Build the pipeline on every worker before timing (as the single-process rows exclude loading)."""
    from ingest.text import distributed

    t0 = time.perf_counter()
    client.run(lambda: distributed._pipeline(options) and None)
    return time.perf_counter() - t0


def run_cluster(mode: str, spec: str, base: list[Document], n_docs: int, batch_size: int, partition_size: int,
                cycle: bool = True) -> dict:
    """The same stream through ``extract_on_cluster`` on a fresh cluster; CPU counts the worker processes."""
    from ingest.text.distributed import dask_client, extract_on_cluster

    ner = mode == "ner"
    opts = {"ner": ner, "gene_ner": "auto" if ner else False, "max_length": None}
    options = tuple(sorted(opts.items()))
    with dask_client(spec) as client:
        load_s = warm_workers(client, options)
        words = docs = mentions = relations = 0
        samples = [rss_mb()]
        c0 = cpu_seconds()
        t0 = time.perf_counter()
        for d in extract_on_cluster(stream(base, n_docs, cycle), client, ner=ner, gene_ner=opts["gene_ner"],
                                    batch_size=batch_size, partition_size=partition_size):
            docs += 1
            words += len(d.text.split())
            mentions += len(d.mentions)
            relations += len(d.relations)
            if docs % 500 == 0:
                samples.append(rss_mb())
        secs = time.perf_counter() - t0
        cpu = cpu_seconds() - c0
        workers = len(client.nthreads())
    return {"mode": f"{mode} on {spec}", "workers": workers, "docs": docs, "words": words, "seconds": round(secs, 2),
            "words_per_s": round(words / secs), "words_per_cpu_s": round(words / cpu) if cpu else None,
            "cpu_seconds": round(cpu, 2), "mentions": mentions, "relations": relations, "load_s": round(load_s, 1),
            "rss_mb_peak": round(max(samples)), "load_average": os.getloadavg()[0]}


def long_doc(base: list[Document], chars: int, modes: list[str]) -> None:
    """Words per CPU-second on one long document vs the same text as separate abstracts."""
    parts, size = [], 0
    for d in itertools.cycle(base):
        if size >= chars:
            break
        parts.append(d)
        size += len(d.text) + 2
    text = "\n\n".join(d.text for d in parts)
    words = len(text.split())
    for mode in modes:
        nlp = pipeline_for(mode)
        nlp.max_length = max(nlp.max_length, len(text) + 1)
        for name, docs in (("one document", [Document(id="long", text=text)]),
                           (f"{len(parts)} abstracts", [Document(id=f"{d.id}-{k}", text=d.text) for k, d in enumerate(parts)])):
            c0 = cpu_seconds()
            n = sum(len(r.mentions) for r in extract_documents(nlp, iter(docs), batch_size=64))
            cpu = cpu_seconds() - c0
            print(f"{mode:<10} {name:<16} {len(text):>11,} chars {words:>9,} words  {words / cpu:>8,.0f} words/cpu-s  "
                  f"{n:,} mentions", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", action="append", default=None, help="corpus file(s), any supported format")
    ap.add_argument("--docs", type=int, default=2000, help="documents per run (the corpus is cycled)")
    ap.add_argument("--distinct", action="store_true",
                    help="no repeats: every distinct abstract of BC5CDR and NCBI-disease (or --input) once, "
                         "so no text is met twice (--docs caps the count)")
    ap.add_argument("--modes", default="dictionary,ner", help="dictionary, ner, ner-linear (ner with the linear INTERACTS_WITH model)")
    ap.add_argument("--processes", default="1,2")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--sample-every", type=int, default=500)
    ap.add_argument("--novel-words", type=float, default=0.0, metavar="FRACTION",
                    help="replace this fraction of every document's words by never-seen strings (memory test)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--long-doc", type=int, default=0, metavar="CHARS",
                    help="instead: one document of about CHARS characters (corpus abstracts joined), "
                         "to show the cost per word does not grow with document length")
    ap.add_argument("--ner-model", default=None, help="NER model directory for the ner mode (default: the shipped one)")
    ap.add_argument("--gene-model", default=None, help="Gene NER model directory for the ner mode (default: shipped, if any)")
    ap.add_argument("--cluster", default=None, metavar="SPECS",
                    help="instead: Dask runs, comma-separated cluster specs (e.g. local:1,local:2); "
                         "a single-process reference runs first in the same process")
    ap.add_argument("--partition-size", type=int, default=256)
    args = ap.parse_args(argv)
    inputs = args.input or [str(p) for p in (DISTINCT_INPUTS if args.distinct else DEFAULT_INPUTS)]
    base = distinct([d for p in inputs for d in read_documents(p, stats=ReadStats())])
    if not base:
        sys.exit("no documents read")
    if args.long_doc:
        long_doc(base, args.long_doc, args.modes.split(","))
        return
    if args.cluster:
        n = min(args.docs, len(base)) if args.distinct else args.docs
        out = []
        for mode in args.modes.split(","):
            ref = run(mode, 1, base, n, args.batch_size, args.sample_every, cycle=not args.distinct)
            print(f"{mode:<10} single process      {ref['words_per_s']:>9,} words/s  {ref['words_per_cpu_s']:>9,} words/CPU-s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
            out.append(ref)
            for spec in args.cluster.split(","):
                r = run_cluster(mode, spec, base, n, args.batch_size, args.partition_size, cycle=not args.distinct)
                print(f"{mode:<10} {spec:<18} {r['words_per_s']:>9,} words/s  {r['words_per_cpu_s']:>9,} words/CPU-s  "
                      f"{r['words_per_s'] / ref['words_per_s']:.2f}x the single process  (workers' pipeline load "
                      f"{r['load_s']} s, load {r['load_average']:.1f})", flush=True)
                out.append(r)
        if args.json:
            args.json.write_text(json.dumps(out, indent=2))
        return
    results = []
    print(f"{len(base)} distinct documents, {sum(len(d.text.split()) for d in base) / len(base):.0f} words each on average; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}")
    print(f"{'mode':<34} {'proc':>4} {'docs':>7} {'words/s':>9} {'docs/s':>8} {'words/cpu-s':>11} {'docs/cpu-s':>10} {'RSS MiB start/peak/end':>24}")
    for mode in args.modes.split(","):
        for n_process in (int(x) for x in args.processes.split(",")):
            r = run(mode, n_process, base, min(args.docs, len(base)) if args.distinct else args.docs,
                    args.batch_size, args.sample_every, cycle=not args.distinct, novel=args.novel_words,
                    ner_model=args.ner_model, gene_model=args.gene_model)
            results.append(r)
            print(f"{r['mode']:<34} {n_process:>4} {r['docs']:>7} {r['words_per_s']:>9} {r['docs_per_s']:>8} {r['words_per_cpu_s']:>11} {r['docs_per_cpu_s']:>10} "
                  f"{r['rss_mb_start']:>8}/{r['rss_mb_peak']}/{r['rss_mb_end']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
