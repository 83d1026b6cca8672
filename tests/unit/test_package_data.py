"""The package's own files are found from any working directory.

Data scientists keep folders called ``models/`` or ``data/`` next to their scripts. With an editable
install (the README's), such a folder without ``__init__.py`` in the working directory becomes the
namespace package ``models`` for ``importlib.resources.files("models")``, and the shipped artifacts,
configs and sample data were looked up there (a ``MultiplexedPath`` of the user's folder). The paths
now come from each module's own location.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHECK = r"""
import json
from graph_engine.hetionet import default_mapping
from graph_engine.schema import default_schema
from ingest.text.pipeline import models_dir
from ingest.demo import demo_files
from jobs.demo_sections.patients import sample_dir
from models.artifacts import default_artifact_dir, default_config_path, sample_data_path
from models.datasets import default_label_map_path
from recommend.metapaths import default_metapaths
paths = [default_artifact_dir("sequence"), default_config_path("image"), sample_data_path("text"),
         default_label_map_path(), *demo_files(), sample_dir(), models_dir()]
print(json.dumps({"paths": [str(p) for p in paths], "exist": [p.exists() for p in paths],
                  "labels": len(default_schema().labels), "metapaths": len(default_metapaths()[0]), "metaedges": len(default_mapping().metaedges)}))
"""


def test_shipped_files_are_found_next_to_user_folders_of_the_same_names(tmp_path: Path) -> None:
    for name in ("models", "ingest", "recommend", "graph_engine", "jobs", "data"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "notes.txt").write_text("the user's own folder\n")
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(got["exist"]), got
    assert not any(str(tmp_path) in p for p in got["paths"])
    assert got["labels"] > 0 and got["metapaths"] > 0 and got["metaedges"] > 0
