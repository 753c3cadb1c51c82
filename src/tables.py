"""Plain Markdown tables for the terminal, the README and MLflow artifacts."""

import math
from typing import Any


def cells(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> tuple[list[str], list[list[str]]]:
    """The header and the formatted cells; columns: (key, title, format); a missing or NaN
    value prints as '-'."""
    def cell(row, key, fmt):
        value = row.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return fmt.format(value)

    return [title for _, title, _ in columns], [[cell(r, key, fmt) for key, _, fmt in columns] for r in rows]


def format_table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    header, body = cells(rows, columns)
    widths = [max(len(x) for x in column) for column in zip(header, *body)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in body]
    return "\n".join(lines)
