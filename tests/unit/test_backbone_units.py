"""Pure logic of the backbone: settings, schema, Cypher builders, readers, mappings, export."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from graph_engine import cypher
from graph_engine.errors import ConfigError, IngestError, SchemaError, ServerError
from graph_engine.export import tables_from_edges
from graph_engine.schema import check_property_key, default_schema
from graph_engine.settings import Settings, read_secret_file, write_secret_file
from ingest.curated import GenericFormat, HetionetFormat, LineReader, RowError

pytestmark = pytest.mark.unit


# ------------------------------------------------------------------ settings
def test_settings_layering_env_over_file_over_defaults(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[medkg]\nbatch_size = 123\ndatabase = "fromfile"\nuser = "alice"\n')
    s = Settings.load(env={"MEDKG_HOME": str(tmp_path), "NEO4J_DATABASE": "fromenv"})
    assert (s.batch_size, s.database, s.user, s.home) == (123, "fromenv", "alice", tmp_path)
    assert Settings.load(env={"MEDKG_HOME": str(tmp_path / "none")}).batch_size == Settings().batch_size


def test_password_never_in_config_file_or_repr(tmp_path):
    (tmp_path / "config.toml").write_text('password = "hunter2"\n')
    with pytest.raises(ConfigError, match="must not be stored"):
        Settings.load(env={"MEDKG_HOME": str(tmp_path)})
    s = Settings.load(env={"MEDKG_HOME": str(tmp_path / "x"), "NEO4J_PASSWORD": "hunter2"})
    assert s.password == "hunter2" and "hunter2" not in repr(s) and "***" in repr(s)


def test_secret_file_must_be_0600(tmp_path):
    p = tmp_path / "pw"
    write_secret_file(p, "s3cret")
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    s = Settings.load(env={"MEDKG_HOME": str(tmp_path), "NEO4J_PASSWORD_FILE": str(p)})
    assert s.password == "s3cret"
    os.chmod(p, 0o644)
    with pytest.raises(ConfigError, match="0600"):
        read_secret_file(p)


@pytest.mark.parametrize("bad", [{"MEDKG_BATCH_SIZE": "many"}, {"MEDKG_BATCH_SIZE": "0"}])
def test_bad_settings_are_named(tmp_path, bad):
    with pytest.raises(ConfigError, match="batch_size|MEDKG_BATCH_SIZE"):
        Settings.load(env={"MEDKG_HOME": str(tmp_path), **bad})


def test_unknown_config_key_is_named(tmp_path):
    (tmp_path / "config.toml").write_text("batchsize = 3\n")
    with pytest.raises(ConfigError, match="unknown setting 'batchsize'"):
        Settings.load(env={"MEDKG_HOME": str(tmp_path)})


# ------------------------------------------------------------------ schema and cypher
def test_schema_checks():
    s = default_schema()
    assert s.check_label("Disease") == "Disease"
    for bad in ("disease", "Disease`) DELETE", "Foo", ""):
        with pytest.raises(SchemaError):
            s.check_label(bad)
    with pytest.raises(SchemaError):
        s.check_relationship_type("TREATS`]->() DELETE r//")
    with pytest.raises(SchemaError):
        check_property_key("a b")
    ext = s.extend(record_labels=["Trial"], relationship_types=["ENROLLS", "TREATS"])
    assert ext.check_label("Trial") and ext.relationship_types.count("TREATS") == 1
    with pytest.raises(SchemaError):
        s.extend(record_labels=["bad label"])


def test_cypher_builders_only_quote_safe_identifiers():
    q = cypher.merge_relationships("Drug", "TREATS", "Disease")
    assert "$rows" in q and "`Drug`" in q and "`TREATS`" in q
    with pytest.raises(ValueError):
        cypher.merge_nodes("Drug`) DETACH DELETE n //")
    with pytest.raises(ValueError):
        cypher.vector_index_statement("Drug", "embedding", 0, "x_vec")
    stmts = cypher.constraint_statements(default_schema())
    assert len([s for s in stmts if "REQUIRE n.id IS UNIQUE" in s]) == len(default_schema().labels)


def test_lucene_escape():
    from graph_engine.client import lucene_escape

    assert lucene_escape('x"}) AND (y:*') == 'x\\"\\}\\) AND \\(y\\:\\*'


# ------------------------------------------------------------------ readers and mappings
def test_hetionet_mapping_covers_every_kind_and_metaedge():
    het = HetionetFormat()
    schema = default_schema()
    for label, _ in het.mapping.kinds.values():
        schema.check_label(label)
    for s_kind, rel, t_kind in het.mapping.metaedges.values():
        schema.check_relationship_type(rel)
        assert s_kind in het.mapping.kinds and t_kind in het.mapping.kinds
    assert het.curie("Compound::DB00997") == ("Compound", "Drug", "DRUGBANK:DB00997")
    assert het.curie("Gene::5742")[2] == "NCBIGene:5742"
    assert het.curie("Pathway::WP100_r1")[2] == "WIKIPATHWAYS:WP100_r1"
    assert het.curie("Side Effect::C0000727")[1:] == ("SideEffect", "UMLS:C0000727")
    for bad in ("Compound:DB1", "Planet::X", "Gene::ABC"):
        with pytest.raises(RowError):
            het.curie(bad)


def test_metaedges_agree_with_shared_metaedge_table():
    from tests.conftest import shared_data

    table = shared_data("hetionet", "metaedges.tsv").read_text().splitlines()[1:]
    abbrevs = {line.split("\t")[1] for line in table if line.strip()}
    assert abbrevs == set(HetionetFormat().mapping.metaedges)


def test_line_reader_gzip_crlf_and_bad_utf8(tmp_path):
    p = tmp_path / "x.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b"a\tb\r\nok \xce\xb1\r\nbad \xff\n")
    lines = list(LineReader(p))
    assert [l.text for l in lines] == ["a\tb", "ok α", None]
    assert lines[2].number == 3 and "invalid UTF-8" in lines[2].error


def test_truncated_gzip_is_a_named_error(tmp_path):
    p = tmp_path / "cut.gz"
    data = gzip.compress(b"line\n" * 10000)
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match="cut.gz"):
        list(LineReader(p))


def test_generic_rows_typed_and_errors(tmp_path):
    from ingest.curated import Line

    gen = GenericFormat(default_schema(), "src")
    path = tmp_path / "n.csv"
    lines = [Line(1, "id,label,name,score:float", b""), Line(2, "X:1,Drug,a,0.5", b""),
             Line(3, "X:2,Drug,b,notanumber", b""), Line(4, "X:3,Planet,c,1", b""), Line(5, "X:4,Drug", b"")]
    out = []
    for line, make in gen.node_rows(path, iter(lines)):
        try:
            out.append(make())
        except RowError as e:
            out.append(str(e))
    assert out[0].properties == {"score": 0.5}
    assert "bad value" in out[1] and "unknown label 'Planet'" in out[2] and "expected 4 columns" in out[3]
    with pytest.raises(IngestError, match="missing required column"):
        list(gen.node_rows(path, iter([Line(1, "name,label", b"")])))


# ------------------------------------------------------------------ export
def test_tables_to_matrix_and_fingerprint():
    t = tables_from_edges(
        {"Drug": ["a", "b"], "Disease": ["d", "e"]},
        {("Drug", "TREATS", "Disease"): [("a", "d", 2.0), ("b", "e", 1.0)],
         ("Disease", "RESEMBLES", "Disease"): [("d", "e", 1.0)]},
    )
    m = t.to_matrix()
    dense = np.zeros((4, 4), dtype=np.float32)
    dense[0, 2], dense[1, 3], dense[2, 3] = 2, 1, 1
    np.testing.assert_array_equal(m.matrix.toarray(), dense)
    assert m.index_of("Disease", "e") == 3 and list(m.labels) == ["Drug", "Drug", "Disease", "Disease"]
    sym = t.to_matrix(symmetric=True).matrix
    assert (sym != sym.T).nnz == 0
    only = t.to_matrix(edge_keys=[("Drug", "TREATS", "Disease")]).matrix
    assert only.nnz == 2
    assert t.fingerprint() == tables_from_edges(
        {"Drug": ["a", "b"], "Disease": ["d", "e"]},
        {("Disease", "RESEMBLES", "Disease"): [("d", "e", 1.0)],
         ("Drug", "TREATS", "Disease"): [("b", "e", 1.0), ("a", "d", 2.0)]},
    ).fingerprint()
    # the fingerprint is about content: node order and repeated edges do not change it, an edge does
    assert t.fingerprint() == tables_from_edges(
        {"Drug": ["b", "a"], "Disease": ["e", "d"]},
        {("Drug", "TREATS", "Disease"): [("b", "e", 1.0), ("a", "d", 2.0), ("a", "d", 2.0)],
         ("Disease", "RESEMBLES", "Disease"): [("d", "e", 1.0)]},
    ).fingerprint()
    assert t.fingerprint() != tables_from_edges(
        {"Drug": ["a", "b"], "Disease": ["d", "e"]},
        {("Drug", "TREATS", "Disease"): [("a", "e", 2.0), ("b", "d", 1.0)],
         ("Disease", "RESEMBLES", "Disease"): [("d", "e", 1.0)]},
    ).fingerprint()
    with pytest.raises(KeyError, match="not in this matrix"):
        m.index_of("Gene", "a")
    empty = tables_from_edges({}, {}).to_matrix()
    assert empty.matrix.shape == (0, 0) and isinstance(empty.matrix, sp.csr_matrix)


# ------------------------------------------------------------------ managed server
def test_missing_java_names_what_to_install(tmp_path, monkeypatch):
    from graph_engine.server import ManagedNeo4j

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    server = ManagedNeo4j(Settings(home=tmp_path))
    with pytest.raises(ServerError, match="openjdk-17"):
        server.start()


def test_missing_maven_names_what_to_install(tmp_path, monkeypatch):
    import shutil

    from graph_engine.server import ManagedNeo4j

    java = shutil.which("java")
    if java is None:
        pytest.skip("java not installed")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "java").symlink_to(Path(java).resolve())
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ServerError, match="apt-get install maven"):
        ManagedNeo4j(Settings(home=tmp_path)).provision()


def test_managed_conf_binds_loopback(tmp_path):
    from graph_engine.server import ManagedNeo4j

    server = ManagedNeo4j(Settings(home=tmp_path))
    server._write_conf("127.0.0.1", 7001, 7002)
    conf = (server.conf_dir / "neo4j.conf").read_text()
    assert "server.default_listen_address=127.0.0.1" in conf
    assert "server.bolt.listen_address=127.0.0.1:7001" in conf
    # no wildcard listen address (0.0.0.0/0 appears only in the LOAD CSV address blocklist)
    assert "dbms.security.auth_enabled=true" in conf and "address=0.0.0.0" not in conf
    assert "internal.dbms.cypher_ip_blocklist=0.0.0.0/0,::/0" in conf


def test_cli_param_parsing():
    from jobs.cli import parse_param

    assert parse_param("n=41") == ("n", 41)
    assert parse_param("id=DOID:1") == ("id", "DOID:1")
    assert parse_param('xs=["a", 1]') == ("xs", ["a", 1])
    import click

    with pytest.raises(click.BadParameter):
        parse_param("novalue")


def test_concurrent_maven_provisions_download_once(tmp_path):
    """Two provisions of one root at once (two `medkg synthea generate` on a fresh MEDKG_HOME) run Maven once;
    before the lock both copied into the same lib.partial and one failed."""
    import threading

    from graph_engine.server import maven_provision

    calls = tmp_path / "calls"
    fake = tmp_path / "mvn"
    fake.write_text(
        "#!/bin/sh\n"
        f"echo x >> {calls}\n"
        "for a in \"$@\"; do case $a in -DoutputDirectory=*) out=${a#-DoutputDirectory=};; esac; done\n"
        "mkdir -p \"$out\" && sleep 0.5 && echo jar > \"$out/thing-1.0.jar\"\n")
    fake.chmod(0o755)
    root = tmp_path / "tool" / "1.0"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            maven_provision(root, "<project/>", mvn=str(fake), done=lambda: (root / "lib" / ".complete").exists(),
                            marker="thing-*.jar", what="thing:1.0", stamp="1.0", error=ServerError)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert calls.read_text().count("x") == 1
    assert (root / "lib" / "thing-1.0.jar").exists() and (root / "lib" / ".complete").read_text() == "1.0"
    assert not (root / "lib.partial").exists()


def test_maven_provision_without_the_marker_jar_fails_clearly(tmp_path):
    from graph_engine.server import maven_provision

    fake = tmp_path / "mvn"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    with pytest.raises(ServerError, match="holds no thing-\\*.jar"):
        maven_provision(tmp_path / "t", "<project/>", mvn=str(fake), done=lambda: False, marker="thing-*.jar",
                        what="thing:1.0", stamp="1.0", error=ServerError)
