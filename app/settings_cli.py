"""`bala settings`: every setting, the environment variable that sets it, its value and where
that value came from (default, or the variable that was read)."""

from __future__ import annotations

import json


def format_settings(rows: list[dict]) -> str:
    """An aligned table: setting, value, source (its variable, when one set it)."""
    width = max(len(r["setting"]) for r in rows)
    lines = []
    for r in rows:
        where = r["from"] if r["from"] != "default" else f"default ({r['variable']})"
        lines.append(f"{r['setting']:<{width}}  {r['value']!s:<40}  {where}")
    return "\n".join(lines)


def cmd_settings(args) -> int:
    from core.settings import describe_settings, load_settings

    rows = describe_settings(load_settings(args.index))
    if args.index:
        rows[0]["from"] = "--index"
    print(json.dumps(rows, indent=2) if args.json else format_settings(rows), flush=True)
    return 0


def add_settings_command(sub, add_index) -> None:
    p = sub.add_parser("settings", help="every setting, its BALA_ variable and current value")
    p.add_argument("--json", action="store_true")
    add_index(p)
    p.set_defaults(func=cmd_settings)
