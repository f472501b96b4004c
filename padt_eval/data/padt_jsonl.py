"""The PaDT-MLLM RefCOCO JSONL layout (`PaDT-MLLM/RefCOCO/{split}.json`).

One JSON object a line, as PaDT's `process_refcoco.py` writes it:
`id` (COCO image id), `image` (file name under COCO train2014), `conversations[0].value`
(the prompt), `objects[0]` with `bbox` (x1, y1, x2, y2 normalised to [0, 1]), `rle` (COCO
RLE, `size` = [height, width]) and `label` (the referring expression).

sample_id = the 0-based line index in the file, as a string. The image size comes from
the RLE's `size`, so no image is opened to read the split. REC checks nothing else of the
mask (no REC number uses it): its samples carry it as read, and only RES validates it.

Note: PaDT's preprocessing dropped samples whose mask covers no 28-px patch, so these
files are not the full standard splits (see docs/data.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from padt_eval.core import rle as rlemod
from padt_eval.core.boxes import NORMALISED_BOX_META, is_finite_box
from padt_eval.core.errors import DataError
from padt_eval.core.images import ImageRoot
from padt_eval.core.jsonl import open_source
from padt_eval.core.types import GroundTruthObject, ImageRef, Sample, Task
from padt_eval.data.instances import find_train2014_instances
from padt_eval.data.jsonl_split import JsonlSplitReader
from padt_eval.data.split import SplitInfo

_QUOTED = re.compile(r'"(.*)"')


class PadtRefcocoJsonlReader(JsonlSplitReader):
    id_is_line_index = True

    def __init__(
        self,
        path: str | Path,
        image_root: str | Path,
        task: Task,
        name: str | None = None,
        instances_path: str | Path | None = None,
    ) -> None:
        self.image_root = Path(image_root)
        self._images = ImageRoot(image_root)
        self._file_name = Path(path).name
        self.task = task
        self._checked: dict[int, tuple[Any, str | None]] = {}
        info = SplitInfo(
            name=name or Path(path).stem,
            layout="padt-jsonl",
            files=[str(path)],
            image_root=str(image_root),
            task=task,
            notes=["PaDT-MLLM JSONL: samples with masks smaller than one 28-px patch were dropped by PaDT's preprocessing"],
        )
        # The file carries only the target of each line; the image's other objects (for the
        # error breakdown) come from COCO train2014's instances file when one is found.
        found = Path(instances_path) if instances_path is not None else find_train2014_instances(None, self.image_root)
        if found is not None and found.is_file():
            info.instances_file = str(found)
        else:
            info.instances_note = (
                f"no COCO instances_train2014.json found (looked next to {self.image_root} and under the data root"
                + (f"; {instances_path} is not a file" if instances_path is not None else "")
                + ")"
            )
        super().__init__(path, info)

    def image_ids(self) -> set[Any]:
        # The lines' `id`, read without making samples; a line that is not a JSON object
        # is the samples' business (their reading names its file and line).
        ids = set()
        with open_source(self.path) as f:
            for raw in f:
                if raw.strip():
                    try:
                        obj = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        return super().image_ids()
                    if type(obj) is not dict:
                        return super().image_ids()
                    ids.add(obj.get("id"))
        return ids

    def prepare_block(self, objs: list[Any]) -> None:
        # RES: the ground-truth masks of a block are checked together (`rle.problems`);
        # REC never uses them, and reads only their size.
        self._checked.clear()
        if self.task != Task.RES or not objs:
            return
        masks = []
        for obj in objs:
            objects = obj.get("objects") if type(obj) is dict else None
            if type(objects) is list and len(objects) == 1 and type(objects[0]) is dict:
                masks.append(objects[0].get("rle"))
        for mask, why in zip(masks, rlemod.problems(masks)):
            self._checked[id(mask)] = (mask, why)  # the mask is held, so its id stays its own

    def _mask_problem(self, mask: Any) -> str | None:
        if self.task != Task.RES:
            return rlemod.size_problem(mask)
        known = self._checked.get(id(mask))
        return known[1] if known is not None and known[0] is mask else rlemod.problem(mask)

    def _kept_mask(self, mask: dict) -> rlemod.RLE | None:
        if self.task == Task.RES:
            return rlemod.normalise(mask)
        # REC: kept as read, unchecked (pictures and the demo use it; no metric does); a
        # counts list would need pycocotools to compress, so it is dropped instead
        counts = mask.get("counts")
        return {"size": [int(mask["size"][0]), int(mask["size"][1])], "counts": counts} if type(counts) is str else None

    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: Any) -> Sample:
        objects = obj.get("objects")
        if not isinstance(objects, list) or len(objects) != 1:
            raise DataError(f"{where}: expected exactly one object in 'objects'")
        o = objects[0]
        mask = o.get("rle")
        why = self._mask_problem(mask)
        if why is not None:
            raise DataError(f"{where}: objects[0].rle is not a valid COCO RLE: {why}")
        height, width = (int(v) for v in mask["size"])
        if height <= 0 or width <= 0:
            raise DataError(f"{where}: RLE size {mask['size']} is empty")
        nb = o.get("bbox")
        if not is_finite_box(nb):
            raise DataError(f"{where}: objects[0].bbox must be four finite numbers, got {nb!r}")
        bbox = [nb[0] * width, nb[1] * height, nb[2] * width, nb[3] * height]
        expression = o.get("label")
        if not isinstance(expression, str):
            expression = self._expression_from_prompt(obj, where)
        image_file = obj.get("image")
        path = self._images.join(image_file, context=where)
        return Sample(
            sample_id=str(line_index),
            task=self.task,
            image=ImageRef(path=path, width=width, height=height, root=self._images.root),
            expression=expression,
            objects=[
                GroundTruthObject(
                    bbox=[float(v) for v in bbox],
                    mask=self._kept_mask(mask),
                    label=expression,
                    iscrowd=bool(o.get("iscrowd", False)),
                    area=float(o["area"]) if isinstance(o.get("area"), (int, float)) else None,
                )
            ],
            meta={
                "image_id": obj.get("id"),
                "image_file": image_file,
                "source": f"{self._file_name}:{line_index + 1}",
                # the release protocol rounds the GT from these, in the release's order
                NORMALISED_BOX_META: [float(v) for v in nb],
            },
        )

    @staticmethod
    def _expression_from_prompt(obj: dict[str, Any], where: Any) -> str:
        try:
            prompt = obj["conversations"][0]["value"]
        except (KeyError, IndexError, TypeError):
            raise DataError(f"{where}: no objects[0].label and no conversations[0].value to take the expression from") from None
        m = _QUOTED.search(prompt)
        if not m:
            raise DataError(f"{where}: no quoted expression in the prompt {prompt!r}")
        return m.group(1)

    def _line_index_of(self, sample_id: str) -> int:
        return int(sample_id)
