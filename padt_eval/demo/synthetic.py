"""A deterministic synthetic world of coloured shapes, written in the real file layouts.

Used by the demo and the tests: the same world is written as PaDT's RefCOCO JSONL and as
the standard refer layout, so both readers can be checked against each other, and every
later layout (COCO, RIC) can be generated from the same objects.

Each object is a polygon (a circle is a 24-gon); its mask is pycocotools' rasterisation
of that polygon, the image is painted from the mask, and the box is the mask's tight
box, so image, mask and box agree exactly.
"""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from padt_eval.core import rle as rlemod

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 210, 40),
    "purple": (140, 60, 170),
    "orange": (240, 140, 30),
}
SHAPES = ("circle", "square", "triangle")
# COCO-style categories for the shapes (ids as a detection dataset would number them).
SHAPE_CATEGORY_IDS = {"circle": 1, "square": 2, "triangle": 3}
BACKGROUND = (128, 128, 128)


@dataclass
class SynthObject:
    shape: str
    colour: str
    polygon: list[float]  # flat x, y list
    mask: dict  # RLE, str counts
    bbox_xywh: list[float]
    area: int
    expressions: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"


@dataclass
class SynthImage:
    image_id: int
    file_name: str
    width: int
    height: int
    objects: list[SynthObject]


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[float]:
    if shape == "circle":
        pts = [(cx + r * math.cos(2 * math.pi * k / 24), cy + r * math.sin(2 * math.pi * k / 24)) for k in range(24)]
    elif shape == "square":
        pts = [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    else:
        pts = [(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)]
    return [round(float(v), 2) for p in pts for v in p]


def _position_words(objects: list[SynthObject]) -> list[str]:
    """'on the left' / 'on the right' / 'in the middle' by horizontal centre rank."""
    centres = [o.bbox_xywh[0] + o.bbox_xywh[2] / 2 for o in objects]
    order = sorted(range(len(objects)), key=lambda i: centres[i])
    words = [""] * len(objects)
    for rank, i in enumerate(order):
        words[i] = "on the left" if rank == 0 else "on the right" if rank == len(objects) - 1 else "in the middle"
    return words


def make_world(n_images: int = 50, seed: int = 0, first_image_id: int = 1) -> list[SynthImage]:
    """`n_images` images of 2–4 shapes each, with distinct colour–shape pairs per image."""
    rng = np.random.default_rng(seed)
    images: list[SynthImage] = []
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    for k in range(n_images):
        width = int(rng.integers(10, 21)) * 16  # 160..320
        height = int(rng.integers(8, 16)) * 16  # 128..240
        n_obj = int(rng.integers(2, 5))
        chosen = rng.choice(len(pairs), size=n_obj, replace=False)
        objects: list[SynthObject] = []
        slot_w = width / n_obj
        for j, pi in enumerate(chosen):
            colour, shape = pairs[int(pi)]
            r = float(rng.uniform(0.18, 0.35)) * min(slot_w, height)
            cx = slot_w * (j + 0.5) + float(rng.uniform(-0.1, 0.1)) * slot_w
            cy = float(rng.uniform(r + 2, height - r - 2))
            poly = _polygon(shape, cx, cy, r)
            mask = rlemod.from_polygons([poly], height, width)
            x, y, x2, y2 = rlemod.bbox_xyxy(mask)
            objects.append(SynthObject(shape, colour, poly, mask, [x, y, x2 - x, y2 - y], rlemod.area(mask)))
        for o, where in zip(objects, _position_words(objects)):
            o.expressions = (
                [f"the {o.name} {where}", f"{o.colour} {o.shape}"] if rng.random() < 0.5 else [f"the {o.name} {where}"]
            )
        image_id = first_image_id + k
        images.append(SynthImage(image_id, f"COCO_train2014_{image_id:012d}.png", width, height, objects))
    return images


def render_image(img: SynthImage) -> np.ndarray:
    canvas = np.empty((img.height, img.width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    for o in img.objects:
        canvas[rlemod.decode(o.mask).astype(bool)] = COLOURS[o.colour]
    return canvas


def write_images(world: list[SynthImage], image_dir: Path) -> None:
    from PIL import Image

    image_dir.mkdir(parents=True, exist_ok=True)
    for img in world:
        target = image_dir / img.file_name
        if not target.exists():
            Image.fromarray(render_image(img)).save(target)


def iter_sentences(world: list[SynthImage]):
    """(sent_id, image, object index, expression) in one fixed order shared by all layouts."""
    sent_id = 0
    for img in world:
        for j, o in enumerate(img.objects):
            for expr in o.expressions:
                yield sent_id, img, j, expr
                sent_id += 1


def write_padt_jsonl(world: list[SynthImage], path: Path) -> int:
    """PaDT-MLLM RefCOCO JSONL, one line per sentence, line i = sent_id i."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for _sid, img, j, expr in iter_sentences(world):
            o = img.objects[j]
            x, y, w, h = o.bbox_xywh
            # PaDT writes the mask it decoded from the polygons and re-encoded.
            mask = rlemod.encode(rlemod.decode(rlemod.from_polygons([o.polygon], img.height, img.width)))
            line = {
                "id": img.image_id,
                "image": img.file_name,
                "conversations": [
                    {
                        "from": "human",
                        "value": f'Please carefully check the image and detect the object this sentence describes: "{expr}".',
                    }
                ],
                "task": "refering",
                "answer_template": f'The "{expr}" refers to <|Obj_0|> in this image.',
                "objects": [
                    {
                        "bbox": [x / img.width, y / img.height, (x + w) / img.width, (y + h) / img.height],
                        "iscrowd": 0,
                        "area": o.area,
                        "rle": mask,
                        "label": expr,
                    }
                ],
            }
            f.write(json.dumps(line) + "\n")
            n += 1
    return n


def write_refer(world: list[SynthImage], dataset_dir: Path, split_by: str = "unc", split_of=lambda image_id: "val") -> None:
    """`refs(<split_by>).p` + `instances.json`, as the refer archives hold them."""
    dataset_dir.mkdir(parents=True, exist_ok=True)
    images, annotations, refs = [], [], []
    ann_id = 0
    by_key: dict[tuple[int, int], int] = {}
    for img in world:
        images.append({"id": img.image_id, "file_name": img.file_name, "width": img.width, "height": img.height})
        for j, o in enumerate(img.objects):
            ann_id += 1
            by_key[(img.image_id, j)] = ann_id
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": img.image_id,
                    "category_id": SHAPE_CATEGORY_IDS[o.shape],
                    "segmentation": [o.polygon],
                    "bbox": o.bbox_xywh,
                    "area": o.area,
                    "iscrowd": 0,
                }
            )
    ref_of: dict[tuple[int, int], dict] = {}
    for sent_id, img, j, expr in iter_sentences(world):
        key = (img.image_id, j)
        if key not in ref_of:
            ref_of[key] = {
                "ref_id": len(refs),
                "ann_id": by_key[key],
                "image_id": img.image_id,
                "file_name": f"COCO_train2014_{img.image_id:012d}_{by_key[key]}.png",
                "split": split_of(img.image_id),
                "category_id": SHAPE_CATEGORY_IDS[img.objects[j].shape],
                "sent_ids": [],
                "sentences": [],
            }
            refs.append(ref_of[key])
        ref_of[key]["sent_ids"].append(sent_id)
        ref_of[key]["sentences"].append({"sent_id": sent_id, "sent": expr, "raw": expr.capitalize(), "tokens": expr.split()})
    categories = [{"id": cid, "name": name, "supercategory": "shape"} for name, cid in SHAPE_CATEGORY_IDS.items()]
    with open(dataset_dir / f"refs({split_by}).p", "wb") as f:
        pickle.dump(refs, f, protocol=2)
    with open(dataset_dir / "instances.json", "w", encoding="utf-8") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)


def as_val2017(world: list[SynthImage]) -> list[SynthImage]:
    """The same images named as COCO val2017 files (`000000000042.png`)."""
    for img in world:
        img.file_name = f"{img.image_id:012d}.png"
    return world


def write_coco_instances(world: list[SynthImage], path: Path) -> None:
    """An official-layout COCO instances file (polygon segmentations) over the shapes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for img in world:
        images.append({"id": img.image_id, "file_name": img.file_name, "width": img.width, "height": img.height})
        for o in img.objects:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": img.image_id,
                    "category_id": SHAPE_CATEGORY_IDS[o.shape],
                    "segmentation": [o.polygon],
                    "bbox": o.bbox_xywh,
                    "area": o.area,
                    "iscrowd": 0,
                }
            )
    categories = [{"id": cid, "name": name, "supercategory": "shape"} for name, cid in SHAPE_CATEGORY_IDS.items()]
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)


def ric_captions(img: SynthImage) -> list[tuple[str, str, list[int]]]:
    """(template with <|Obj_k|>, the same caption in plain words, object indices) per caption.

    Three captions per image, each naming the objects left to right; the placeholders index
    that caption's own object list, as PaDT's RIC files do."""
    order = sorted(range(len(img.objects)), key=lambda j: img.objects[j].bbox_xywh[0])
    names = [f"{'an' if img.objects[j].name[0] in 'aeiou' else 'a'} {img.objects[j].name}" for j in order]
    cap = lambda t: t[0].upper() + t[1:]  # noqa: E731  (str.capitalize would lower-case <|Obj_k|>)
    out = []
    # 1: every object, chained with "next to"
    out.append(
        (
            cap(" next to ".join(f"{n} (<|Obj_{k}|>)" for k, n in enumerate(names))) + ".",
            cap(" next to ".join(names)) + ".",
            order,
        )
    )
    # 2: the leftmost object only
    out.append(
        (
            f"There is {names[0]} (<|Obj_0|>) on the left of a grey background.",
            f"There is {names[0]} on the left of a grey background.",
            order[:1],
        )
    )
    # 3: the first two objects
    out.append(
        (
            f"A picture of {names[0]} (<|Obj_0|>) and {names[1]} (<|Obj_1|>) on grey.",
            f"A picture of {names[0]} and {names[1]} on grey.",
            order[:2],
        )
    )
    return out


def write_ric_jsonl(world: list[SynthImage], path: Path) -> None:
    """PaDT-MLLM/ReferringImageCaptioning JSONL: one line per caption, several per image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for img in world:
            for template, _plain, idx in ric_captions(img):
                objects = []
                for j in idx:
                    o = img.objects[j]
                    x, y, w, h = o.bbox_xywh
                    objects.append(
                        {
                            "bbox": [x / img.width, y / img.height, (x + w) / img.width, (y + h) / img.height],
                            "iscrowd": 0,
                            "area": o.area,
                            "rle": o.mask,
                            "label": "",
                        }
                    )
                line = {
                    "id": img.image_id,
                    "image": img.file_name,
                    "conversations": [{"from": "human", "value": "Please describe this image."}],
                    "answer_template": template,
                    "objects": objects,
                    "task": "ric",
                }
                f.write(json.dumps(line) + "\n")
