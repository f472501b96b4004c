"""How `--help` reads: whole words, one-line command summaries, no width limit in a pipe.

Typer prints help with click's plain formatter here (`rich_markup_mode=None`, so help
text is never read as markup). Click wraps with `textwrap`, which breaks at hyphens
(`--max-` / `pixels`, `<data-` / `root>`) and cuts a command summary at a width;
both are undone here, in one place.
"""

from __future__ import annotations

import inspect
import sys

import typer

# Width of help that is not written to a terminal: no wrapping, so nothing is broken.
_UNBOUNDED_WIDTH = 10_000


def context_settings() -> dict:
    """Click context settings: the terminal's width (up to 100) or none at all in a pipe."""
    if sys.stdout.isatty():
        return {"max_content_width": 100}
    return {"terminal_width": _UNBOUNDED_WIDTH, "max_content_width": _UNBOUNDED_WIDTH}


def keep_words_whole() -> None:
    """Make the help wrapper break lines at spaces only, never inside a word. Typer from
    0.26 on carries its own copy of click's formatter, which is the one patched then;
    click itself is patched (and imported, 10 ms) only for an older typer that uses it."""
    import importlib

    for name in ("typer._click._textwrap", "click._textwrap"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # a version without that module: its own wrapping stays
            continue
        base = module.TextWrapper
        if not getattr(base, "_padt_eval_whole_words", False):
            module.TextWrapper = _whole_words(base)
        return


def _whole_words(base: type) -> type:
    class WholeWordsWrapper(base):  # type: ignore[misc, valid-type]
        _padt_eval_whole_words = True

        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("break_on_hyphens", False)
            kwargs.setdefault("break_long_words", False)
            super().__init__(*args, **kwargs)

    return WholeWordsWrapper


def one_line_summaries(app: typer.Typer) -> None:
    """Each command's summary in the command list is the first paragraph of its help on
    one line (click otherwise cuts it at a width, mid-sentence)."""
    for info in app.registered_commands:
        doc = inspect.getdoc(info.callback) or ""
        if info.short_help is None and doc:
            info.short_help = _first_paragraph(doc)
    for group in app.registered_groups:
        sub = group.typer_instance
        if group.short_help is None and isinstance(sub.info.help, str):
            group.short_help = _first_paragraph(sub.info.help)
        one_line_summaries(sub)


def _first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n", 1)[0].split())
