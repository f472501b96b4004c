"""The run report's alarms: results that cannot be right, each with what triggered it.

metrics.json `alarms` (`metrics/alarms.py`) are drawn first, in red, each with its
evidence (the figures and thresholds that fired it) folded under it; the run's other
`warnings` follow as plain warnings. A run without either gets no section.
"""

from __future__ import annotations

import html
import json

from padt_eval.results.record import RunRecord

ALARMS_CSS = """
.alarm{border-left:4px solid #c00;background:#fff3f3;padding:6px 10px;margin:6px 0}
.alarm b{color:#a00}.alarm pre{font-size:11px;white-space:pre-wrap;margin:4px 0 0}
"""


def alarms_section(record: RunRecord) -> str:
    alarm_messages = {a.get("message") for a in record.alarms}
    alarms = "".join(
        f'<div class="alarm" data-alarm="{html.escape(str(a.get("name")))}"><b>alarm [{html.escape(str(a.get("name")))}]</b> '
        f"{html.escape(str(a.get('message')))}<details><summary>what triggered it</summary>"
        f"<pre>{html.escape(json.dumps(a.get('evidence'), indent=1, default=str))}</pre></details></div>"
        for a in record.alarms
    )
    others = "".join(f'<p class="warn">warning: {html.escape(w)}</p>' for w in record.warnings if w not in alarm_messages)
    if not alarms and not others:
        return ""
    return (
        f'<section id="alarms"><h2>Alarms and warnings</h2><p class="caption">An alarm says a result cannot be right as it '
        f"stands (docs/reports.md, Alarms).</p>{alarms}{others}</section>"
    )
