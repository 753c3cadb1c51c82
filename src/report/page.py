"""summary.html: the report as one self-contained page (figures embedded), which MLflow's
artifact view renders; it shows summary.md as plain text, image links and all."""

import base64
import html
from pathlib import Path

STYLE = ("body{font-family:sans-serif;font-size:13px;margin:12px}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
         "td:first-child,th:first-child{text-align:left}td{white-space:nowrap}img{max-width:100%;display:block;margin:12px 0}")


def summary_html(title: str, paragraphs: list[str], header: list[str], body: list[list[str]],
                 figures: list[Path]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    images = "".join(f'<img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
                     f'{base64.b64encode(p.read_bytes()).decode()}">' for p in figures)
    text = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h2>{html.escape(title)}</h2>{text}"
            f"<table><tr>{head}</tr>{cells}</table>{images}</body></html>")
