"""The two consoles every command prints to: results on stdout, errors and warnings on stderr."""

from __future__ import annotations

from padt_eval.core.std_streams import reopen_closed_std_streams
from padt_eval.report.console import make_console

reopen_closed_std_streams()  # `padt-eval ... >&-`: results are still written (before any console exists)
console = make_console()
err_console = make_console(stderr=True)
