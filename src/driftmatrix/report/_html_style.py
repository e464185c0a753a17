"""The HTML report's stylesheet, inlined in the page (no external CSS, fonts or images).

The verdict colours come from :mod:`._palette`, so the grid, the table's badges and the plots
agree. System fonts only: the file must look right offline, on any machine.
"""

from __future__ import annotations

from driftmatrix.report import _palette as palette

_BASE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d0d7de; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--soft); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Roboto, Helvetica,
  Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 22px 28px 40px; background: #fff;
  min-height: 100vh; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 30px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 12.5px; }
code { background: var(--soft); padding: 0 3px; border-radius: 3px; overflow-wrap: anywhere; }
pre.error { background: #fff5f5; border: 1px solid #f1c0c0; padding: 8px 10px;
  white-space: pre-wrap; overflow-wrap: anywhere; border-radius: 4px; }
.context { color: var(--muted); margin: 0 0 14px; }
.outcome { font-size: 18px; font-weight: 650; padding: 12px 16px; border-radius: 6px;
  border-left: 8px solid; margin: 10px 0; }
.notice { font-weight: 600; padding: 8px 12px; border: 1px solid #e3b341;
  background: #fff8c5; border-radius: 6px; }
.counts { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; margin: 8px 0; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 11px; font-weight: 650;
  font-size: 12.5px; border: 1.5px solid; white-space: nowrap; }
.flag { display: inline-block; padding: 0 6px; margin: 1px 0; border-radius: 4px;
  font-size: 12px; background: #eef1f4; border: 1px solid var(--line); white-space: nowrap; }
.warn { color: #b35900; }
.gaps { color: var(--muted); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; }
table:not(.grid):not(.facts) th { background: var(--soft); border-bottom: 1px solid var(--line); }
table:not(.grid):not(.facts) td { border-bottom: 1px solid #eaeef2; }
table.cells td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.cells tr.note td { color: var(--muted); border-top: none; padding-top: 0; font-size: 13px; }
table.cells tr:has(+ tr.note) td { border-bottom: none; }
table.cells code, .flag, summary code { white-space: nowrap; }
table.cells tr.ref td { font-weight: 600; }
table.facts th { color: var(--muted); font-weight: 500; padding-left: 0; }
table.grid { border-collapse: separate; border-spacing: 8px; margin-left: -8px; }
table.grid th { font-weight: 600; text-align: center; vertical-align: middle; padding: 2px 6px; }
table.grid th.row { text-align: right; white-space: nowrap; }
table.grid th.corner { color: var(--muted); font-weight: 500; font-size: 12.5px;
  text-align: right; }
table.grid td { padding: 0; vertical-align: top; }
table.grid td.empty { border: 1.5px dashed #d8dde3; border-radius: 8px; min-width: 150px; }
.tile { display: block; min-width: 165px; padding: 7px 10px 8px; margin: 0 0 6px;
  border-radius: 8px; border-left: 7px solid; color: var(--ink); text-decoration: none; }
.tile:last-child { margin-bottom: 0; }
.tile:hover { filter: brightness(0.97); }
.tile .tv { display: block; font-weight: 700; font-size: 15px; }
.tile .tf, .tile .to { display: block; font-size: 12.5px; }
.tile .to { color: var(--muted); }
.tile .tflags { display: block; font-size: 11.5px; color: var(--muted); }
.tile.ref { box-shadow: 0 0 0 2.5px var(--ink); }
.star { font-weight: 700; }
figure { margin: 8px 0 22px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 13px; max-width: 900px; margin-top: 4px; }
.note { color: var(--muted); font-style: italic; }
details.cell { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0;
  padding: 0 12px; }
details.cell > summary { cursor: pointer; padding: 8px 0; }
details.cell[open] > summary { border-bottom: 1px solid #eaeef2; margin-bottom: 6px; }
details.cell .why { color: var(--muted); }
details.inner > summary { cursor: pointer; color: #0b57d0; margin: 4px 0; }
.probe-ok { color: #1b7837; } .probe-failed { color: #c51b29; font-weight: 600; }
.probe-running { color: #8e0152; font-weight: 600; } .probe-skipped { color: var(--muted); }
footer { color: var(--muted); font-size: 12.5px; margin-top: 30px; }
"""


def stylesheet() -> str:
    """The page's CSS: the base rules and one rule set per verdict colour."""
    rules = [_BASE.strip()]
    for verdict, colours in palette.VERDICT.items():
        name = f"v-{verdict.value}"
        rules.append(
            f".badge.{name}, .tile.{name} {{ background: {colours.tint}; "
            f"border-color: {colours.strong}; }}"
        )
    for name, colours in palette.VERDICT_OUTCOME.items():
        rules.append(
            f".outcome.{name} {{ background: {colours.tint}; border-color: {colours.strong}; }}"
        )
    return "\n".join(rules)
