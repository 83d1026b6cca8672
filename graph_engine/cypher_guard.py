"""The read-only fence's first layer: a clause / command allow-list for user Cypher.

:meth:`graph_engine.client.GraphClient.query` runs user text. Neo4j's
``EXPLAIN`` query type says whether a query writes, but not whether it reads
a URL (``LOAD CSV FROM 'http://…' + <graph data>`` sends graph data off the
machine), kills another user's transaction (``TERMINATE TRANSACTIONS``),
lists server configuration (``SHOW SETTINGS``, ``CALL dbms.listConfig()``),
batches writes in its own transactions (``CALL { … } IN TRANSACTIONS``) or
switches database (``USE system``). :func:`check_read_query` refuses those
from the query's tokens, before anything reaches the server.

The text is tokenised the way Cypher reads it: string literals (``'…'`` and
``"…"`` with backslash escapes), backtick-quoted names and comments
(``// …`` and ``/* … */``) never count as keywords, so a string that contains
``LOAD CSV`` is allowed. Keywords are case-insensitive. A word right after
``.``, ``:``, ``$`` or ``|`` (a property key, label, relationship type or
parameter) or right before ``:`` (a map key or a variable with a label) is a
name, not a keyword.

Rules (everything not listed is refused):

* a statement (the query, each ``UNION`` branch and each ``CALL { … }``
  subquery) starts with ``MATCH``, ``OPTIONAL``, ``WITH``, ``UNWIND``,
  ``RETURN`` or ``CALL``: administration commands (``SHOW``, ``TERMINATE``,
  ``CREATE USER``, ``ALTER``, ``GRANT``, ``START DATABASE`` …), ``USE``,
  ``EXPLAIN`` / ``PROFILE`` and ``CYPHER`` options are refused;
* ``LOAD CSV``, ``USE``, ``SHOW``, ``TERMINATE`` and the write / admin clause
  keywords are refused anywhere;
* ``CALL { … } IN [n CONCURRENT] TRANSACTIONS`` is refused;
* ``CALL <procedure>`` only for the read-only procedures in
  :data:`ALLOWED_PROCEDURES` (no ``dbms.*``);
* one statement only (a trailing ``;`` is allowed).
"""

from __future__ import annotations

from dataclasses import dataclass

from graph_engine.errors import QueryError

#: Clauses a statement may start with.
STATEMENT_STARTS = frozenset({"MATCH", "OPTIONAL", "WITH", "UNWIND", "RETURN", "CALL"})

#: Keywords refused wherever they appear as a keyword (writes are also refused by EXPLAIN's query type).
REFUSED_KEYWORDS = frozenset({
    "USE", "SHOW", "TERMINATE", "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "FOREACH", "DROP",
    "ALTER", "GRANT", "DENY", "REVOKE", "RENAME", "FINISH", "INSERT",
})

#: Read-only procedures ``CALL`` may run (lower case); everything else, ``dbms.*`` included, is refused.
ALLOWED_PROCEDURES = frozenset({
    "db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization",
    "db.schema.nodetypeproperties", "db.schema.reltypeproperties", "db.index.fulltext.querynodes",
    "db.index.fulltext.queryrelationships", "db.index.vector.querynodes", "db.index.vector.queryrelationships",
})


@dataclass(frozen=True)
class Token:
    kind: str  # "word" (bare word or number), "name" (backtick-quoted), "string", "param", "punct"
    text: str
    pos: int


def tokenize(query: str) -> list[Token]:
    """Split Cypher into tokens; comments are dropped, strings and quoted names kept whole.

    Raises:
        QueryError: an unterminated string, quoted name or block comment.
    """
    out: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif query.startswith("//", i):
            j = query.find("\n", i)
            i = n if j < 0 else j + 1
        elif query.startswith("/*", i):
            j = query.find("*/", i + 2)
            if j < 0:
                raise QueryError("refused: unterminated /* comment")
            i = j + 2
        elif c in "'\"":
            j = i + 1
            while j < n and query[j] != c:
                j += 2 if query[j] == "\\" else 1
            if j >= n:
                raise QueryError("refused: unterminated string literal")
            out.append(Token("string", query[i + 1:j], i))
            i = j + 1
        elif c == "`":
            j = i + 1
            text = []
            while True:
                k = query.find("`", j)
                if k < 0:
                    raise QueryError("refused: unterminated `quoted name`")
                text.append(query[j:k])
                if query.startswith("``", k):  # escaped backtick
                    text.append("`")
                    j = k + 2
                    continue
                break
            out.append(Token("name", "".join(text), i))
            i = k + 1
        elif c == "$":
            j = i + 1
            while j < n and (query[j].isalnum() or query[j] == "_"):
                j += 1
            out.append(Token("param", query[i:j], i))
            i = j
        elif c.isalnum() or c == "_":
            j = i
            while j < n and (query[j].isalnum() or query[j] == "_"):
                j += 1
            out.append(Token("word", query[i:j], i))
            i = j
        else:
            out.append(Token("punct", c, i))
            i += 1
    return out


def _is_keyword(tokens: list[Token], i: int) -> bool:
    t = tokens[i]
    if t.kind != "word":
        return False
    if i > 0 and tokens[i - 1].kind == "punct" and tokens[i - 1].text in ".:$|&!":
        return False
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    return not (nxt is not None and nxt.kind == "punct" and nxt.text == ":")


def _kw(tokens: list[Token], i: int) -> str | None:
    return tokens[i].text.upper() if 0 <= i < len(tokens) and _is_keyword(tokens, i) else None


def _refuse(what: str) -> QueryError:
    return QueryError(f"refused: {what} is not allowed in a read-only query (allowed: MATCH, OPTIONAL MATCH, "
                      "WITH, UNWIND, RETURN, UNION, subqueries and read-only db.* procedures)")


def _procedure_name(tokens: list[Token], i: int) -> tuple[str, int]:
    """The dotted procedure name starting at ``tokens[i]`` and the index after it."""
    parts: list[str] = []
    while i < len(tokens) and tokens[i].kind in ("word", "name"):
        parts.append(tokens[i].text)
        i += 1
        if i < len(tokens) and tokens[i].kind == "punct" and tokens[i].text == ".":
            i += 1
            continue
        break
    return ".".join(parts), i


def check_read_query(query: str) -> None:
    """Refuse ``query`` unless it only uses read clauses (see the module docstring).

    Raises:
        QueryError: naming the refused clause, command or procedure.
    """
    tokens = tokenize(query)
    while tokens and tokens[-1].kind == "punct" and tokens[-1].text == ";":
        tokens.pop()
    if not tokens:
        raise QueryError("refused: the query is empty")
    starts = {0}  # indexes where a statement starts
    call_braces: list[bool] = []  # for each open "{": does it open a CALL subquery?
    for i, t in enumerate(tokens):
        if i in starts and (_kw(tokens, i) or "") not in STATEMENT_STARTS:
            raise _refuse(f"a statement starting with {t.text!r}")
        if t.kind == "punct":
            if t.text == ";":
                raise _refuse("more than one statement (';')")
            if t.text == "{":
                prev = _kw(tokens, i - 1)
                is_call = prev == "CALL"
                if not is_call and i > 0 and tokens[i - 1].text == ")":
                    # CALL (x, y) { ... }: a scoped subquery
                    depth, j = 0, i - 1
                    while j >= 0:
                        if tokens[j].text == ")":
                            depth += 1
                        elif tokens[j].text == "(":
                            depth -= 1
                            if depth == 0:
                                break
                        j -= 1
                    is_call = _kw(tokens, j - 1) == "CALL"
                call_braces.append(is_call)
                if is_call:
                    starts.add(i + 1)
            elif t.text == "}":
                was_call = call_braces.pop() if call_braces else False
                if was_call and _kw(tokens, i + 1) == "IN":
                    after = [_kw(tokens, i + 2), _kw(tokens, i + 3)]
                    if "TRANSACTIONS" in after or "CONCURRENT" in after or (i + 2 < len(tokens) and tokens[i + 2].kind == "param"):
                        raise _refuse("CALL { ... } IN TRANSACTIONS")
            continue
        kw = _kw(tokens, i)
        if kw is None:
            continue
        if kw == "UNION":
            starts.add(i + 2 if _kw(tokens, i + 1) in ("ALL", "DISTINCT") else i + 1)
        elif kw in REFUSED_KEYWORDS:
            raise _refuse(kw)
        elif kw == "LOAD" and _kw(tokens, i + 1) == "CSV":
            raise _refuse("LOAD CSV")
        elif kw == "CALL":
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if nxt is None:
                raise _refuse("an empty CALL")
            if nxt.kind == "punct" and nxt.text in "{(":
                continue  # subquery; checked through its braces
            name, _ = _procedure_name(tokens, i + 1)
            if name.lower() not in ALLOWED_PROCEDURES:
                raise _refuse(f"CALL {name}")
    if call_braces:
        raise QueryError("refused: unbalanced braces")
