"""The offline HTML report: headline tables and charts in one file, images embedded."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from apps.settings import REPO_ROOT

REPORTS = REPO_ROOT / "reports"
SUMMARY = "summary.json"  # a run's as_of, the exact files read, the counts

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #eef2f7; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 0.5rem 0 1.5rem; }
.note { color: #555; }
"""


def reports_folder(reports_dir: str | None) -> Path:
    """Where a run's files go; a notebook opened in jupyter lab uses reports/notebook/."""
    folder = Path(reports_dir) if reports_dir else REPORTS / "notebook"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class Table:
    """A result to show: in a notebook (it renders itself) or in the report."""

    columns: list[str]
    rows: list[tuple]

    def _repr_html_(self) -> str:
        return html_table(self.columns, self.rows)


@dataclass
class Section:
    title: str
    note: str = ""
    table: Table | None = None
    charts: list[Path] = field(default_factory=list)


def html_table(columns: list[str], rows: list[tuple], limit: int = 50) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows[:limit])
    more = f"<p class='note'>... and {len(rows) - limit} more rows</p>" if len(rows) > limit else ""
    empty = "<p class='note'>(no rows)</p>" if not rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{empty}{more}"


def embedded_png(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<img alt='{html.escape(path.stem)}' src='data:image/png;base64,{data}'>"


def render(title: str, intro: str, sections: list[Section]) -> str:
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(intro)}</p>"]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.note:
            parts.append(f"<p class='note'>{html.escape(section.note)}</p>")
        parts.extend(embedded_png(chart) for chart in section.charts)
        if section.table is not None:
            parts.append(html_table(section.table.columns, section.table.rows))
    parts.append("</body></html>")
    return "\n".join(parts)
