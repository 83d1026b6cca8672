"""Readers, label map and leakage-free splits: bad input gives clear errors or counted skips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from graph_engine.errors import ModelError
from models.datasets import (
    group_split,
    image_groups,
    load_label_map,
    read_images,
    read_texts,
    resolve_labels,
    text_groups,
)

pytestmark = pytest.mark.unit


def test_packaged_label_map_covers_shipped_labels_with_curies() -> None:
    lm = load_label_map()
    assert lm["pneumonia"].disease_id == "DOID:552"
    assert lm["normal"].disease_id is None
    assert lm["Malaria"].disease_id == "DOID:12365"
    assert len([k for k in lm if k not in ("normal", "pneumonia")]) == 24
    for info in lm.values():
        assert info.disease_id is None or info.disease_id.split(":")[0] in ("DOID", "MEDKG")


def test_unknown_label_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not in the label map.*label_map.tsv"):
        resolve_labels(["Malaria", "Scurvy"], load_label_map(), "data.csv")


def test_label_map_rejects_duplicates_and_non_curies(tmp_path: Path) -> None:
    p = tmp_path / "m.tsv"
    p.write_text("label\tdisease_id\tdisease_name\na\tDOID:1\tx\na\tDOID:2\ty\n")
    with pytest.raises(ModelError, match="twice"):
        load_label_map(p)
    p.write_text("label\tdisease_id\tdisease_name\na\t1234\tx\n")
    with pytest.raises(ModelError, match="CURIE"):
        load_label_map(p)


def test_npz_medmnist_layout_needs_a_split(tmp_path: Path) -> None:
    p = tmp_path / "m.npz"
    np.savez(p, train_images=np.zeros((2, 28, 28), np.uint8), train_labels=np.zeros((2, 1), np.uint8))
    with pytest.raises(ModelError, match="choose a split among \\['train'\\]"):
        read_images(p)
    loaded = read_images(p, split="train")
    assert len(loaded.records) == 2 and loaded.records[0].label == "normal"


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((2, 28, 28), np.int64), "dtype int64"),
        (np.zeros((2, 3, 28, 28), np.uint8), "shape \\(2, 3, 28, 28\\)"),
        (np.zeros((28, 28), np.uint8), "expected \\(N, H, W\\)"),
    ],
)
def test_npz_wrong_dtype_or_shape(tmp_path: Path, images: np.ndarray, match: str) -> None:
    p = tmp_path / "bad.npz"
    np.savez(p, images=images)
    with pytest.raises(ModelError, match=match):
        read_images(p)


def test_npz_corrupt_file(tmp_path: Path) -> None:
    p = tmp_path / "broken.npz"
    p.write_bytes(b"not a zip file at all")
    with pytest.raises(ModelError, match="not a readable .npz"):
        read_images(p)


def test_bad_records_are_skipped_with_reasons(tmp_path: Path) -> None:
    imgs = np.full((5, 28, 28), 0.5, np.float32)
    imgs[1, 3, 3] = np.nan
    imgs[2, 0, 0] = 7.0
    p = tmp_path / "x.npz"
    np.savez(p, images=imgs, labels=np.array([0, 1, 1, 5, 0]), ids=np.array(["a", "b", "c", "d", "a"]))
    loaded = read_images(p)
    assert loaded.read == 5
    assert [r.id for r in loaded.records] == ["a"]
    reasons = {s.id: s.reason for s in loaded.skipped}
    assert "NaN" in reasons["b"] and "outside [0, 1]" in reasons["c"]
    assert "unknown label index 5" in reasons["d"]
    assert [s.reason for s in loaded.skipped if s.line == 5] == ["duplicate id"]


def test_image_folder_without_pillow_says_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / "normal").mkdir()
    try:
        import PIL  # noqa: F401
    except ImportError:
        with pytest.raises(ModelError, match="Pillow"):
            read_images(tmp_path)
    else:  # pragma: no cover - Pillow is not a medkg dependency
        assert read_images(tmp_path).read == 0


def test_texts_jsonl_skips_empty_invalid_and_duplicates(tmp_path: Path) -> None:
    p = tmp_path / "n.jsonl"
    lines = [
        json.dumps({"id": "1", "text": "fever and chills"}),
        json.dumps({"id": "2", "text": "   "}),
        "{not json",
        json.dumps({"id": "1", "text": "again"}),
        json.dumps(["a list"]),
        json.dumps({"text": "no id given"}),
    ]
    p.write_text("\n".join(lines) + "\n")
    loaded = read_texts(p)
    assert loaded.read == 6
    assert [r.id for r in loaded.records] == ["1", "line-6"]
    by_line = {s.line: s.reason for s in loaded.skipped}
    assert by_line[2] == "empty text" and by_line[3].startswith("invalid JSON")
    assert by_line[4] == "duplicate id" and "JSON object" in by_line[5]


def test_csv_without_text_column_names_line_one(tmp_path: Path) -> None:
    p = tmp_path / "n.csv"
    p.write_text("id,note\n1,hello\n")
    with pytest.raises(ModelError, match="line 1.*no 'text' column"):
        read_texts(p)


def test_text_groups_join_near_duplicates_only() -> None:
    texts = [
        "I have a rash full of pus-filled pimples and blackheads.",
        "I have a rash full of pus filled pimples and blackheads!",
        "My joints ache and my neck is stiff when I walk.",
    ]
    g = text_groups(texts, 0.8)
    assert g[0] == g[1] != g[2]


def test_group_split_keeps_groups_on_one_side_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    labels = np.array(["a"] * 60 + ["b"] * 40)
    groups = rng.integers(0, 30, size=100)
    keep, hold = group_split(labels, groups, 0.25, seed=3)
    assert len(np.intersect1d(keep, hold)) == 0 and len(keep) + len(hold) == 100
    assert set(groups[keep]).isdisjoint(set(groups[hold]))
    assert set(labels[hold]) == {"a", "b"}
    keep2, hold2 = group_split(labels, groups, 0.25, seed=3)
    assert (hold == hold2).all()


def test_image_groups_hash_identical_images() -> None:
    a = np.zeros((28, 28), np.uint8)
    b = a.copy()
    b[0, 0] = 1
    g = image_groups([a, b, a.copy()])
    assert g[0] == g[2] != g[1]
