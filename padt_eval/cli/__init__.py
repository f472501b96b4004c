"""The `padt-eval` command line, a thin layer over `padt_eval.api`.

`app` is the Typer app and `main` its entry point (`padt-eval = padt_eval.cli:main`);
`python -m padt_eval.cli` runs it too. The modules: `options` (the shared options),
`task_flags` and `tasks` (rec, res, ovd, ric, grec, gres), `drift` (check-batching,
also across backends), `runs` (compare,
leaderboard, report), `data` (data fetch|status|sources, splits), `models` (models, plan),
`demo`, `help` (how --help reads) and `app` (assembles them).
"""

from padt_eval.cli.app import app, main

__all__ = ["app", "main"]
