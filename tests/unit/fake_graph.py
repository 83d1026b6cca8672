"""An in-memory stand-in for ``GraphClient`` that understands the one prediction
write-back (:mod:`graph_engine.predictions`) and the Run lifecycle, with
all-or-nothing transactions like Neo4j's. For unit tests of pure write-back
logic only; the same behaviour is tested against a real server in tests/integration."""

from __future__ import annotations

import copy
import re
from typing import Any, Callable


class FakeResult:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def single(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None

    def consume(self) -> None:
        return None

    def __iter__(self) -> Any:
        return iter(self.rows)


def _names(query: str, pattern: str) -> str:
    m = re.search(pattern, query)
    assert m, f"unexpected statement: {query}"
    return m.group(1)


class FakeGraph:
    """Entity ids per label, prediction nodes and runs in dicts.

    Args:
        ids: label -> ids present in the graph.
        fail: ``fail(op, n_creates)`` may raise inside a transaction (op is the statement tag).
    """

    def __init__(self, ids: dict[str, set[str]], fail: Callable[[str, int], None] | None = None) -> None:
        self.ids = {label: set(map(str, v)) for label, v in ids.items()}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.fail = fail
        self.statements: list[tuple[str, dict[str, Any]]] = []
        self.transactions = 0

    # ------------------------------------------------------------------ client API
    def create_run(self, kind: str, algorithm: str, params: dict[str, Any]) -> str:
        rid = f"run-{len(self.runs) + 1}"
        self.runs[rid] = {"kind": kind, "algorithm": algorithm, "status": "running", "params": params}
        return rid

    def finish_run(self, run_id: str, metrics: dict[str, Any], status: str = "succeeded") -> None:
        self.runs[run_id].update(status=status, metrics=metrics)

    def run_in_transaction(self, fn: Any) -> Any:
        snapshot = (copy.deepcopy(self.nodes), copy.deepcopy(self.ids))
        self.transactions += 1
        try:
            return fn(FakeTx(self))
        except Exception:
            self.nodes, self.ids = snapshot  # rollback
            raise

    def read(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def __enter__(self) -> "FakeGraph":
        return self

    def __exit__(self, *a: Any) -> bool:
        return False

    # ------------------------------------------------------------------ views
    def of_label(self, label: str) -> dict[str, dict[str, Any]]:
        """Prediction nodes of ``label``, flattened: props plus ``for``, ``object``, ``run_id``."""
        return {i: n for i, n in self.nodes.items() if n["label"] == label}

    def ops(self) -> list[str]:
        return [q.splitlines()[0].removeprefix("// ") for q, _ in self.statements]


class FakeTx:
    def __init__(self, g: FakeGraph) -> None:
        self.g = g
        self.creates = 0

    def run(self, query: str, params: dict[str, Any] | None = None) -> FakeResult:
        params = params or {}
        g = self.g
        g.statements.append((query, params))
        op = query.splitlines()[0].removeprefix("// ")
        if g.fail:
            g.fail(op, self.creates)
        if op == "predictions.missing":
            label = _names(query, r"MATCH \(n:`(\w+)`")
            return FakeResult([{"id": i} for i in params["ids"] if i not in g.ids.get(label, set())][:5])
        if op == "predictions.delete":
            for_label = _names(query, r"MATCH \(:`(\w+)`")
            label = _names(query, r"\(p:`(\w+)`\)")
            keys = re.findall(r"p\.`(\w+)` = \$scope", query)
            for nid, n in list(g.nodes.items()):
                if (n["label"] == label and n["for_label"] == for_label and n["for"] in params["targets"]
                        and all(n.get(k) == params["scope"][k] for k in keys)
                        and ("p.kind = $kind" not in query or n.get("kind") == params["kind"])):
                    del g.nodes[nid]
            return FakeResult([])
        if op == "predictions.create":
            for_label = _names(query, r"(?:MATCH|MERGE) \(t:`(\w+)`")
            label = _names(query, r"CREATE \(p:`(\w+)`")
            obj = re.search(r"OPTIONAL MATCH \(o:`(\w+)`", query)
            n = 0
            for row in params["rows"]:
                self.creates += 1
                if g.fail:
                    g.fail(op, self.creates)
                if query.count(f"MERGE (t:`{for_label}`"):
                    g.ids.setdefault(for_label, set()).add(row["for"])
                if row["for"] not in g.ids.get(for_label, set()) or row["id"] in g.nodes:
                    continue
                node = {**row["props"], "label": label, "for_label": for_label, "for": row["for"],
                        "object": row["object"] if obj and row["object"] in g.ids.get(obj.group(1), set()) else None,
                        "run_id": params["run_id"], "created_at": params["created_at"]}
                if "kind: $kind" in query:
                    node["kind"] = params["kind"]
                g.nodes[row["id"]] = node
                n += 1
            return FakeResult([{"created": n}])
        raise AssertionError(f"unexpected statement: {query}")
