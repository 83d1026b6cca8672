"""Reading model inputs (``.npz`` images, image folders, CSV / JSONL notes),
label maps, data fingerprints and leakage-free splits.

Every reader validates at the boundary: a file that cannot be used at all
raises :class:`~graph_engine.errors.ModelError` naming the file and what was
expected; a single bad record is skipped with a reason (``Loaded.skipped``),
so ``read == kept + skipped``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from graph_engine.errors import ModelError
from models.records import ImageRecord, Loaded, Skipped, TextRecord

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
TEXT_SUFFIXES = (".csv", ".jsonl", ".json")
_FLOAT_DTYPES = (np.float16, np.float32, np.float64)

#: this package's folder (see graph_engine.schema._PACKAGE_DIR)
_PACKAGE_DIR = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- label map
@dataclass(frozen=True, slots=True)
class LabelInfo:
    """Where a model label lands in the graph."""

    label: str
    disease_id: str | None
    disease_name: str | None


def default_label_map_path() -> Path:
    """The label map shipped with the package (``models/label_map.tsv``)."""
    return _PACKAGE_DIR.joinpath("label_map.tsv")


def load_label_map(path: str | Path | None = None) -> dict[str, LabelInfo]:
    """Read a label map TSV (``label, disease_id, disease_name, note``; ``#`` comments).

    Raises:
        ModelError: the file is missing, lacks a column, or repeats a label.
    """
    p = Path(path) if path is not None else default_label_map_path()
    if not p.is_file():
        raise ModelError(f"label map {p} does not exist")
    lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise ModelError(f"label map {p} is empty")
    header = lines[0].split("\t")
    for col in ("label", "disease_id"):
        if col not in header:
            raise ModelError(f"label map {p}: missing column {col!r}; expected a header 'label<TAB>disease_id<TAB>disease_name'")
    out: dict[str, LabelInfo] = {}
    for i, ln in enumerate(lines[1:], start=2):
        cells = dict(zip(header, ln.split("\t")))
        label = cells.get("label", "").strip()
        if not label:
            continue
        if label in out:
            raise ModelError(f"label map {p}: label {label!r} appears twice")
        did = cells.get("disease_id", "").strip() or None
        if did is not None and ":" not in did:
            raise ModelError(f"label map {p}: disease id {did!r} for {label!r} is not a CURIE (PREFIX:ID)")
        out[label] = LabelInfo(label, did, (cells.get("disease_name") or "").strip() or None)
    return out


def resolve_labels(labels: Sequence[str], label_map: dict[str, LabelInfo], where: str) -> dict[str, LabelInfo]:
    """The label-map entries for ``labels``; every label must be mapped.

    Raises:
        ModelError: some labels are not in the map (names them and the fix).
    """
    missing = [lb for lb in labels if lb not in label_map]
    if missing:
        raise ModelError(
            f"{where}: labels {missing} are not in the label map; add a row "
            "'label<TAB>disease_id<TAB>disease_name' to models/label_map.tsv "
            "(or to the file given as config label_map)"
        )
    return {lb: label_map[lb] for lb in labels}


# --------------------------------------------------------------------------- fingerprints
def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def image_hash(img: np.ndarray) -> str:
    """Content hash of one image (dtype, shape and pixels), used to keep duplicates on one side."""
    a = np.ascontiguousarray(img)
    return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


# --------------------------------------------------------------------------- images
def _as_image_stack(arr: np.ndarray, key: str, where: str) -> np.ndarray:
    """Bring ``arr`` to shape ``(N, H, W)`` or fail with what was expected."""
    if arr.dtype != np.uint8 and arr.dtype.type not in _FLOAT_DTYPES:
        raise ModelError(
            f"{where}: array {key!r} has dtype {arr.dtype}; expected uint8 (0-255) or float (0-1) grayscale pixels"
        )
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise ModelError(
            f"{where}: array {key!r} has shape {arr.shape}; expected (N, H, W), (N, 1, H, W) or (N, H, W, 1) "
            "grayscale images"
        )
    return arr


def image_problem(img: np.ndarray) -> str | None:
    """Why one image cannot be used, or ``None`` when it is fine."""
    if img.dtype.type in _FLOAT_DTYPES:
        if not np.isfinite(img).all():
            return "non-finite pixel values (NaN or inf)"
        if img.min() < 0.0 or img.max() > 1.0:
            return "float pixels outside [0, 1]"
    return None


def read_image_npz(
    path: str | Path,
    split: str | None = None,
    class_names: Sequence[str] | None = None,
) -> Loaded:
    """Read grayscale images (and labels, ids) from an ``.npz`` file.

    Accepted keys: ``images`` with optional ``labels`` and ``ids`` (and optional
    ``label_names``), or the MedMNIST layout ``{split}_images`` / ``{split}_labels``
    (``split`` is ``train``, ``val`` or ``test``).

    Args:
        path: the ``.npz`` file.
        split: which MedMNIST split to read when the file has no ``images`` key.
        class_names: names of integer labels, index ``k`` -> name; defaults to
            the file's ``label_names`` or to ``("normal", "pneumonia")``.

    Returns:
        :class:`Loaded` with :class:`ImageRecord` s; records with unusable pixels
        or an out-of-range label are in ``skipped``.

    Raises:
        ModelError: the file is missing or not an npz, the keys are absent, or the
            arrays have the wrong shape/dtype.
    """
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise ModelError(f"{where}: no such file; expected an .npz with an 'images' array")
    try:
        npz = np.load(p, allow_pickle=False)
    except Exception as e:  # zipfile.BadZipFile, ValueError, OSError ...
        raise ModelError(f"{where}: not a readable .npz file ({e})") from e
    with npz:
        keys = set(npz.files)
        if "images" in keys:
            ikey, lkey = "images", "labels"
        else:
            if split is None:
                splits = sorted(k[: -len("_images")] for k in keys if k.endswith("_images"))
                raise ModelError(
                    f"{where}: no 'images' array (keys: {sorted(keys)}); "
                    + (f"choose a split among {splits}" if splits else "expected 'images' [+ 'labels', 'ids']")
                )
            ikey, lkey = f"{split}_images", f"{split}_labels"
            if ikey not in keys:
                raise ModelError(f"{where}: no {ikey!r} array (keys: {sorted(keys)})")
        try:
            images = _as_image_stack(npz[ikey], ikey, where)
            labels = npz[lkey] if lkey in keys else None
            ids = npz["ids"] if ("ids" in keys and ikey == "images") else None
            names_arr = npz["label_names"] if "label_names" in keys else None
        except ValueError as e:  # object arrays refused by allow_pickle=False
            raise ModelError(f"{where}: cannot read arrays without pickle ({e}); store plain numeric/str arrays") from e
    n = images.shape[0]
    if labels is not None:
        labels = np.asarray(labels).reshape(-1) if np.asarray(labels).size == n else None
        if labels is None:
            raise ModelError(f"{where}: {lkey!r} must hold one label per image ({n})")
    if ids is not None and len(ids) != n:
        raise ModelError(f"{where}: 'ids' has {len(ids)} entries for {n} images")
    names = list(class_names) if class_names is not None else (
        [str(x) for x in names_arr] if names_arr is not None else ["normal", "pneumonia"]
    )
    out = Loaded(records=[], source=where, sha256=sha256_file(p))
    seen: set[str] = set()
    for i in range(n):
        rid = str(ids[i]) if ids is not None else f"img-{i}"
        img = images[i]
        if rid in seen:
            out.skipped.append(Skipped(rid, i + 1, "duplicate id"))
            continue
        problem = image_problem(img)
        if problem:
            out.skipped.append(Skipped(rid, i + 1, problem))
            continue
        label: str | None = None
        if labels is not None:
            raw = labels[i]
            if labels.dtype.kind in "iu":
                k = int(raw)
                if not 0 <= k < len(names):
                    out.skipped.append(Skipped(rid, i + 1, f"unknown label index {k} (expected 0..{len(names) - 1})"))
                    continue
                label = names[k]
            else:
                label = str(raw)
        seen.add(rid)
        out.records.append(ImageRecord(rid, img, label, i + 1))
    return out


def read_image_folder(path: str | Path) -> Loaded:
    """Read ``root/<class>/<image>.png|jpg`` (class-per-subfolder) as grayscale images.

    Needs Pillow, which medkg does not install by default.

    Raises:
        ModelError: Pillow is missing, the folder has no class subfolders, or
            images have different sizes.
    """
    root = Path(path)
    try:
        from PIL import Image, UnidentifiedImageError  # type: ignore[import-not-found]
    except ImportError as e:
        raise ModelError(
            f"{root}: reading image folders needs Pillow (pip install pillow); "
            "or convert the images to an .npz with 'images' (N, H, W) uint8 and 'labels'"
        ) from e
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not classes:
        raise ModelError(f"{root}: expected one subfolder per class holding PNG/JPEG images")
    out = Loaded(records=[], source=str(root))
    line = 0
    for cls in classes:
        for f in sorted((root / cls).iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            line += 1
            try:
                with Image.open(f) as im:
                    arr = np.asarray(im.convert("L"), dtype=np.uint8)
            except (UnidentifiedImageError, OSError) as e:
                out.skipped.append(Skipped(str(f.relative_to(root)), line, f"corrupt image ({e.__class__.__name__})"))
                continue
            out.records.append(ImageRecord(str(f.relative_to(root)), arr, cls, line))
    return out


def read_images(path: str | Path, split: str | None = None, class_names: Sequence[str] | None = None) -> Loaded:
    """Read images from an ``.npz`` file or a class-per-subfolder image folder."""
    p = Path(path)
    if p.is_dir():
        return read_image_folder(p)
    if p.suffix.lower() != ".npz":
        raise ModelError(f"{p}: expected an .npz file or an image folder for --kind image")
    return read_image_npz(p, split=split, class_names=class_names)


# --------------------------------------------------------------------------- texts
def _text_record(row: dict, line: int, out: Loaded, seen: set[str], where: str) -> None:
    text = row.get("text")
    rid = row.get("id")
    rid = str(rid).strip() if rid not in (None, "") else f"line-{line}"
    if not isinstance(text, str):
        out.skipped.append(Skipped(rid, line, "missing or non-string 'text'"))
        return
    if not text.strip():
        out.skipped.append(Skipped(rid, line, "empty text"))
        return
    if rid in seen:
        out.skipped.append(Skipped(rid, line, "duplicate id"))
        return
    label = row.get("label")
    label = str(label).strip() if label not in (None, "") else None
    seen.add(rid)
    out.records.append(TextRecord(rid, text.strip(), label, line))


def read_texts(path: str | Path) -> Loaded:
    """Read notes from CSV (header with ``text`` and optional ``id``, ``label``) or JSONL.

    Records without an ``id`` get ``line-<n>``. Empty notes, non-JSON lines and
    duplicate ids are skipped with a reason.

    Raises:
        ModelError: the file is missing, of an unknown type, not UTF-8, or a CSV
            without a ``text`` column.
    """
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise ModelError(f"{where}: no such file; expected CSV or JSONL with 'id' and 'text'")
    suffix = p.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise ModelError(f"{where}: expected a .csv or .jsonl file of notes for --kind text")
    out = Loaded(records=[], source=where, sha256=sha256_file(p))
    seen: set[str] = set()
    try:
        if suffix == ".csv":
            with open(p, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if reader.fieldnames is None or "text" not in reader.fieldnames:
                    raise ModelError(f"{where}, line 1: CSV header {reader.fieldnames} has no 'text' column")
                for row in reader:
                    _text_record(row, reader.line_num, out, seen, where)
        else:
            with open(p, encoding="utf-8") as fh:
                for line, raw in enumerate(fh, start=1):
                    if not raw.strip():
                        continue
                    try:
                        row = json.loads(raw)
                    except json.JSONDecodeError as e:
                        out.skipped.append(Skipped(None, line, f"invalid JSON ({e.msg})"))
                        continue
                    if not isinstance(row, dict):
                        out.skipped.append(Skipped(None, line, "expected a JSON object with 'id' and 'text'"))
                        continue
                    _text_record(row, line, out, seen, where)
    except UnicodeDecodeError as e:
        raise ModelError(f"{where}: not UTF-8 text ({e})") from e
    return out


# --------------------------------------------------------------------------- splits
_NORM = re.compile(r"[^a-z0-9]+")


def normalize_text(text: str) -> str:
    """Lower-case, alphanumerics only, single spaces: the key for exact-duplicate grouping."""
    return _NORM.sub(" ", text.lower()).strip()


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def text_groups(texts: Sequence[str], threshold: float = 0.8) -> np.ndarray:
    """Group identical and near-identical texts (connected components).

    Two texts are near-identical when the cosine similarity of their character
    3-5-gram TF-IDF vectors is at least ``threshold``; identical texts after
    :func:`normalize_text` are always grouped.

    Returns:
        An int array of group ids, shape ``(N,)``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(texts)
    uf = _UnionFind(n)
    first: dict[str, int] = {}
    for i, t in enumerate(texts):
        key = normalize_text(t)
        if key in first:
            uf.union(first[key], i)
        else:
            first[key] = i
    if n > 1:
        x = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(
            [normalize_text(t) for t in texts]
        )
        sim = (x @ x.T).tocoo()
        for i, j, v in zip(sim.row, sim.col, sim.data):
            if i < j and v >= threshold:
                uf.union(int(i), int(j))
    return np.array([uf.find(i) for i in range(n)], dtype=np.int64)


def image_groups(images: Iterable[np.ndarray]) -> np.ndarray:
    """Group byte-identical images; returns group ids, shape ``(N,)``."""
    first: dict[str, int] = {}
    out = []
    for i, img in enumerate(images):
        out.append(first.setdefault(image_hash(img), i))
    return np.array(out, dtype=np.int64)


def group_split(labels: Sequence[str], groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split that keeps each group on one side and is stratified by label.

    Groups are assigned whole, class by class (by the group's most common label),
    until each class's held-out share reaches ``fraction``; a class's last group
    is never held out, so every class keeps training data.

    Args:
        labels: one label per record.
        groups: one group id per record (see :func:`text_groups`, :func:`image_groups`).
        fraction: share of records to hold out, in ``(0, 1)``.
        seed: RNG seed.

    Returns:
        ``(keep_idx, holdout_idx)``: sorted integer index arrays, disjoint, covering all records.
    """
    if not 0.0 < fraction < 1.0:
        raise ModelError(f"split fraction must be in (0, 1), got {fraction}")
    label_arr = np.asarray(labels)
    groups = np.asarray(groups)
    rng = np.random.default_rng(seed)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(i)
    by_class: dict[str, list[int]] = {}
    for g, idx in members.items():
        vals, counts = np.unique(label_arr[idx], return_counts=True)
        by_class.setdefault(str(vals[np.argmax(counts)]), []).append(g)
    hold: list[int] = []
    for cls in sorted(by_class):
        gs = sorted(by_class[cls])
        rng.shuffle(gs)
        total = sum(len(members[g]) for g in gs)
        target = fraction * total
        taken = 0
        for j, g in enumerate(gs):
            if taken >= target or j == len(gs) - 1:  # the last group of a class always stays in training
                break
            if taken > 0 and taken + len(members[g]) > target + 0.5 * len(members[g]):
                break
            hold.extend(members[g])
            taken += len(members[g])
    hold_arr = np.array(sorted(hold), dtype=np.int64)
    keep_arr = np.setdiff1d(np.arange(len(labels)), hold_arr)
    return keep_arr, hold_arr
