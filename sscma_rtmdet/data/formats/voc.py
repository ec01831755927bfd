"""Pascal VOC XML datasets, in two layouts:

- classic: ROOT/Annotations/<id>.xml, ROOT/JPEGImages/<id>.jpg, ROOT/ImageSets/Main/<split>.txt (one id a
  line). 'train' reads train.txt, or trainval.txt when there is no train.txt; 'val' val.txt; 'test' test.txt.
- Roboflow's export: ROOT/train/x.jpg with x.xml next to it (valid/, test/ alike); an image without an
  XML has no boxes.

Boxes: VOC's `xmin ymin xmax ymax` are 1-based pixel indices, both ends inclusive (the devkit's area is
(xmax - xmin + 1) * (ymax - ymin + 1)), so in COCO's continuous 0-based frame x = xmin - 1, y = ymin - 1,
w = xmax - xmin + 1, h = ymax - ymin + 1. mmdetection subtracts 1 from all four (and truncates to int),
making its boxes 1 px narrower and shorter than these. Float coordinates are kept as floats. A box with
xmax <= xmin or ymax <= ymin is skipped with a counted warning.

`difficult` objects are kept as ordinary boxes (trained on and scored, unlike mmdetection, which ignores
them) and carry an extra annotation key `"difficult": 1`, so nothing is lost and the stats count them.

Classes: the sorted union of <name> over every split of the dataset (the same order for each split) unless
`classes` is given; a name outside a given list is an error.

The XML is untrusted: files over 10 MB and any DOCTYPE/ENTITY declaration (entity expansion bombs) are
refused; the text must be UTF-8 and is parsed as a str, so a declared encoding cannot change what was checked.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DataError
from .common import IMAGE_EXTS, SPLIT_FOLDERS, CocoBuilder, Notes, is_image, shown

_MAX_XML_BYTES = 10 * 2**20
_CLASSIC_FILES = {"train": ("train.txt", "trainval.txt"), "val": ("val.txt",), "test": ("test.txt",)}


@dataclass
class VocObject:
    name: str
    box: tuple[float, float, float, float] | None  # xmin, ymin, xmax, ymax as written; None: no <bndbox>
    difficult: bool


@dataclass
class VocRecord:
    image: Path
    xml: Path | None
    size: tuple[int, int] | None = None  # <size> (width, height) when given
    objects: list[VocObject] = field(default_factory=list)


def _safe_root(path: Path, where: str) -> ET.Element:
    if path.stat().st_size > _MAX_XML_BYTES:
        raise DataError(f"{where}: over 10 MB, refused (a VOC annotation is a few KB)")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{where}: not UTF-8 text; re-save the annotation as UTF-8") from None
    low = text.lower()
    if "<!doctype" in low or "<!entity" in low:
        raise DataError(f"{where}: has a DOCTYPE/ENTITY declaration, refused (entity expansion can exhaust "
                        "memory; VOC annotations have none): remove it")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise DataError(f"{where}:{e.position[0]}: not valid XML: {e}") from None
    if root.tag != "annotation":
        raise DataError(f"{where}: root element is <{root.tag}>, not a VOC <annotation>")
    return root


def _number(text: str | None, tag: str, where: str) -> float:
    try:
        v = float(str(text).strip())
    except ValueError:
        v = math.nan
    if text is None or not math.isfinite(v):
        raise DataError(f"{where}: <{tag}> is {'missing' if text is None else repr(text)}, not a number")
    return v


def _size(root: ET.Element) -> tuple[int, int] | None:
    """(width, height) from <size>, or None when absent or unusable (the decoded image decides anyway)."""
    try:
        w, h = int(float(root.findtext("size/width"))), int(float(root.findtext("size/height")))
    except (TypeError, ValueError):
        return None
    return (w, h) if w > 0 and h > 0 else None


def parse_voc_xml(path: Path, where: str) -> tuple[str | None, tuple[int, int] | None, list[VocObject]]:
    """(<filename>, <size> (w, h) or None, objects) of one annotation file; malformed values: DataError."""
    root = _safe_root(path, where)
    objects = []
    for k, obj in enumerate(root.findall("object"), 1):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise DataError(f"{where}: object {k} has no <name>")
        owhere = f"{where}: object {k} ({name})"
        box = None
        if (bnd := obj.find("bndbox")) is not None:
            box = tuple(_number(bnd.findtext(t), t, owhere) for t in ("xmin", "ymin", "xmax", "ymax"))
        diff = (obj.findtext("difficult") or "0").strip().lower()
        objects.append(VocObject(name, box, diff in ("1", "true", "1.0")))
    return root.findtext("filename"), _size(root), objects


def voc_layout(root: Path) -> str | None:
    """'classic' (Annotations/), 'roboflow' (split folders holding .xml files) or None."""
    if (root / "Annotations").is_dir():
        return "classic"
    for folders in SPLIT_FOLDERS.values():
        if any((root / f).is_dir() and next((root / f).glob("*.xml"), None) for f in folders):
            return "roboflow"
    return None


def _split_source(root: Path, split: str) -> Path | None:
    """The split's list file (classic) or folder (Roboflow), None when the dataset has no such split."""
    if voc_layout(root) == "classic":
        names = _CLASSIC_FILES[split]
        return next((root / "ImageSets" / "Main" / n for n in names
                     if (root / "ImageSets" / "Main" / n).is_file()), None)
    return next((root / f for f in SPLIT_FOLDERS[split] if (root / f).is_dir()), None)


def voc_splits(root: Path) -> list[str]:
    return [s for s in SPLIT_FOLDERS if _split_source(root, s) is not None]


def _classic_records(root: Path, listing: Path) -> list[VocRecord]:
    out = []
    for lineno, line in enumerate(listing.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.split():
            continue
        img_id, where = line.split()[0], f"{shown(listing, root)}:{lineno}"
        if Path(img_id).name != img_id or img_id in (".", ".."):
            raise DataError(f"{where}: {img_id!r} is not a plain image id (no folders allowed)")
        xml = root / "Annotations" / f"{img_id}.xml"
        if not xml.is_file():
            raise DataError(f"{where}: annotation {shown(xml, root)} not found")
        filename, size, objects = parse_voc_xml(xml, shown(xml, root))
        # only the base name of <filename> is used: a path in an untrusted file must not leave JPEGImages
        cands = ([Path(filename.strip()).name] if filename and filename.strip() else []) + \
            [img_id + ext for ext in IMAGE_EXTS]
        image = next((root / "JPEGImages" / c for c in cands if c and is_image(root / "JPEGImages" / c)), None)
        if image is None:
            raise DataError(f"{where}: no image for id {img_id!r} in {shown(root / 'JPEGImages', root)}")
        out.append(VocRecord(image, xml, size, objects))
    return out


def _roboflow_records(root: Path, folder: Path, notes: Notes) -> list[VocRecord]:
    images = sorted(p for p in folder.iterdir() if is_image(p))
    stems = {p.stem for p in images}
    for xml in sorted(folder.glob("*.xml")):
        if xml.stem not in stems:
            notes.add("annotation files without an image ignored", shown(xml, root))
    out = []
    for image in images:
        xml = image.with_suffix(".xml")
        if not xml.is_file():
            out.append(VocRecord(image, None))
            continue
        _, size, objects = parse_voc_xml(xml, shown(xml, root))
        out.append(VocRecord(image, xml, size, objects))
    return out


def read_voc_records(root: Path, split: str, notes: Notes) -> tuple[list[VocRecord], Path]:
    """(parsed records in id order, image root) of one split; a missing split is a DataError."""
    src = _split_source(root, split)
    if src is None:
        looked = (f"ImageSets/Main/{' or '.join(_CLASSIC_FILES[split])}" if voc_layout(root) == "classic"
                  else " or ".join(f"{f}/" for f in SPLIT_FOLDERS[split]))
        raise DataError(f"VOC dataset {root} has no '{split}' split (looked for {looked})")
    records, img_root = ((_classic_records(root, src), root / "JPEGImages") if src.is_file()
                         else (_roboflow_records(root, src, notes), src))
    if not records:
        raise DataError(f"VOC dataset {root}: split '{split}' ({shown(src, root)}) has no images")
    return records, img_root


def voc_to_coco(root: Path, records: list[VocRecord], img_root: Path, classes: list[str],
                notes: Notes) -> dict:
    """COCO dict of one split's records with the 1-based inclusive -> 0-based continuous rule above."""
    cat = {name: i for i, name in enumerate(classes)}
    builder = CocoBuilder(classes, notes)
    for rec in records:
        image_id, w, h = builder.add_image(rec.image, img_root, root)
        where = shown(rec.xml, root) if rec.xml else shown(rec.image, root)
        if rec.size is not None and rec.size != (w, h):
            notes.add("XML <size> differing from the image (boxes kept as written)", where)
        for k, obj in enumerate(rec.objects, 1):
            owhere = f"{where} object {k} ({obj.name})"
            if obj.name not in cat:
                raise DataError(f"{owhere}: class {obj.name!r} is not in the given classes {classes}")
            if obj.box is None:
                notes.add("objects without <bndbox> skipped", owhere)
                continue
            xmin, ymin, xmax, ymax = obj.box
            if xmax <= xmin or ymax <= ymin:
                notes.add("boxes with xmax <= xmin or ymax <= ymin skipped", owhere)
                continue
            builder.add_box(image_id, cat[obj.name], (xmin - 1, ymin - 1, xmax, ymax), (w, h), owhere,
                            {"difficult": 1} if obj.difficult else None)
    return builder.result()


def _warn_untrained(root: Path, parsed: dict) -> None:
    """A warning for a class name no train object has (often a typo in another split): it becomes a class of
    its own that the model never learns."""
    if "train" not in parsed:
        return
    trained = {o.name for r in parsed["train"][0] for o in r.objects}
    first: dict = {}
    for s, (recs, _) in parsed.items():
        for r in recs:
            for k, o in enumerate(r.objects, 1):
                if o.name not in trained:
                    first.setdefault(o.name, f"{shown(r.xml, root)} object {k}")
    if first:
        import warnings
        listed = ", ".join(f"{n!r} ({where})" for n, where in sorted(first.items())[:5])
        warnings.warn(f"VOC dataset {root}: class(es) with no object in the train split: {listed}; each becomes "
                      "a class the model never learns (a misspelt name?): fix the <name> in those files",
                      stacklevel=3)


def load_voc_splits(root: Path, splits: list[str], classes: list[str] | None = None) -> dict[str, tuple[dict, Path]]:
    """{split: (COCO dict, image root)}; the class order comes from every split, not only those asked for."""
    notes = {s: Notes(f"VOC {root.name} {s}") for s in voc_splits(root)}
    for s in splits:
        if s not in notes:
            read_voc_records(root, s, Notes(s))  # raises the missing-split error
    parsed = {s: read_voc_records(root, s, notes[s]) for s in notes}
    if classes is None:
        classes = sorted({o.name for recs, _ in parsed.values() for r in recs for o in r.objects})
        _warn_untrained(root, parsed)
    elif len(set(classes)) != len(classes):
        raise DataError(f"classes {classes} name a class twice")
    out = {}
    for s in splits:
        recs, img_root = parsed[s]
        out[s] = (voc_to_coco(root, recs, img_root, list(classes), notes[s]), img_root)
        notes[s].warn()
    return out
