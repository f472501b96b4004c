"""Modules that register model families from outside `padt_eval.models`, by name.

`models.base.families()` imports the built-in family modules of models/ and then every
module listed here, so a family declared in a higher layer (the demo's colour-finder) or
in another package (a plugin) is registered without models/ naming it. The list is the
environment variable `PADT_EVAL_FAMILY_MODULES` (module names separated by `os.pathsep`),
so the processes a run starts (spawned ranks, torchrun ranks, DataLoader workers) register
the same families as the process that started them. A user's own family module is added
the same way: `PADT_EVAL_FAMILY_MODULES=my_pkg.my_family padt-eval rec ...`.
"""

from __future__ import annotations

import os

ENV = "PADT_EVAL_FAMILY_MODULES"


def family_modules() -> list[str]:
    """The listed modules, in order, without repeats."""
    names = [n.strip() for n in os.environ.get(ENV, "").split(os.pathsep)]
    return list(dict.fromkeys(n for n in names if n))


def add_family_module(module: str) -> None:
    """List `module` (for this process and the processes it starts)."""
    if module not in family_modules():
        os.environ[ENV] = os.pathsep.join([*family_modules(), module])
