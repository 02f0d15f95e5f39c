"""The class reports of a batch: a CSV gradebook and one self-contained HTML page.

Both are built from what the batch left in OUT/students/<student>/ (batch.json and grading.json,
with the merged manual scores applied), so they can be rebuilt at any time without grading:

    gradebook.csv   one row per student: status, totals, one column per rubric item, seconds, why
    class.html      score histogram, per-item pass rates (hardest first), slowest submissions,
                    submissions that need a person, and the gradebook with links to each report;
                    the figures are PNGs embedded as base64, so the page is one file
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import io
import statistics
from pathlib import Path

from matplotlib.figure import Figure

from grader import manual
from grader.batch import GRADED, Record
from grader.reports import _CSS as REPORT_CSS
from grader.reports import fmt, tally
from grader.resultfile import load_result
from grader.results import GradingResult
from grader.text import clean, first_line


@dataclasses.dataclass
class Row:
    record: Record
    result: GradingResult  # with the manual scores applied

    @property
    def scores(self) -> dict[str, float | None]:
        """item label -> score; None for a manual item still awaiting a person."""
        return {
            f"{a.rubric.assignment}:{i.item.id}": (None if i.status == "pending" else i.score) for a, i in self.result.items()
        }

    @property
    def pending(self) -> list[str]:
        return [f"{a.rubric.assignment}:{i.item.id}" for a, i in self.result.items() if i.status == "pending"]

    @property
    def internal_errors(self) -> int:
        return sum(t.internal_error for _, i in self.result.items() for t in i.tests)

    @property
    def why(self) -> str:
        """Why this row scored what it did, in one cell."""
        if self.record.status != GRADED:
            return first_line(self.record.message, 300)
        lost = [
            f"{a.rubric.assignment}:{i.item.id}: {first_line(i.reason, 120)}"
            for a, i in self.result.items()
            if i.item.kind == "auto" and i.status != "passed"
        ]
        return clean("; ".join(lost), 600)


@dataclasses.dataclass
class Column:
    label: str  # assignment:item
    title: str
    points: float
    kind: str


def load_rows(out: Path) -> list[Row]:
    scores = manual.load_merged(out)
    rows = []
    for folder in sorted((Path(out) / "students").glob("*/")):
        record = Record.load(folder)
        if record is None or not (folder / "grading.json").is_file():
            continue
        rows.append(Row(record, manual.apply(load_result(folder), scores.get(record.student, {}))))
    return sorted(rows, key=lambda r: r.record.student)


def columns_of(rows: list[Row]) -> list[Column]:
    columns: dict[str, Column] = {}
    for row in rows:
        for a, i in row.result.items():
            label = f"{a.rubric.assignment}:{i.item.id}"
            columns.setdefault(label, Column(label, i.item.title, i.item.points, i.item.kind))
    return list(columns.values())


def write_class_reports(out: Path) -> tuple[Path, Path]:
    rows = load_rows(out)
    columns = columns_of(rows)
    gradebook = Path(out) / "gradebook.csv"
    page = Path(out) / "class.html"
    write_gradebook(rows, columns, gradebook)
    page.write_text(class_page(rows, columns), encoding="utf-8")
    return gradebook, page


# ---------------------------------------------------------------------------------------
# Gradebook
# ---------------------------------------------------------------------------------------


def _csv_text(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a student's text may start with =)."""
    text = clean(text, 1000).replace("\n", " ")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t") else text


def _num(x: float) -> str:
    """Points in the gradebook: as exact as results.json (4 decimals), without trailing zeros."""
    return f"{round(x, 4):g}"


GRADEBOOK_HEAD = ["student", "status", "total", "auto_score", "auto_max", "manual_score", "manual_pending"]


def write_gradebook(rows: list[Row], columns: list[Column], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(GRADEBOOK_HEAD + [c.label for c in columns] + ["seconds", "needs_person", "why", "report"])
        for row in rows:
            t = tally(i for _, i in row.result.items())
            scores = row.scores
            cells = [
                _csv_text(row.record.student),
                row.record.status,
                _num(t.auto + t.manual),
                _num(t.auto),
                _num(t.auto_max),
                _num(t.manual),
                _num(t.pending),
            ]
            cells += ["" if scores.get(c.label) is None else _num(scores[c.label]) for c in columns]
            cells += [f"{row.record.seconds:.1f}", "yes" if needs_person(row) else "", _csv_text(row.why)]
            cells.append(f"students/{row.record.slug}/report.html")
            writer.writerow(cells)


def needs_person(row: Row) -> list[str]:
    """Why course staff must look at this submission (empty: they need not)."""
    reasons = []
    if row.record.status != GRADED:
        reasons.append(f"{row.record.status}: {first_line(row.record.message, 200)}")
    if row.internal_errors:
        reasons.append(f"{row.internal_errors} check(s) hit an internal grader error")
    if row.pending:
        reasons.append("manual items to grade: " + ", ".join(row.pending))
    return reasons


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram_png(totals: list[float], maximum: float) -> str:
    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    bins = max(1, round(2 * maximum)) if 0 < maximum <= 10 else 20  # half-point bins for small assignments
    ax.hist(totals, bins=bins, range=(0, maximum or 1), color="#2da44e", edgecolor="white")
    ax.set_xlabel(f"automatic points (of {fmt(maximum)})")
    ax.set_ylabel("students")
    ax.set_title("Score distribution (graded submissions)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def pass_rates_png(rates: list[tuple[str, float]]) -> str:
    """Horizontal bars, hardest item at the top."""
    fig = Figure(figsize=(6.4, 0.45 * len(rates) + 1.2))
    ax = fig.add_subplot()
    labels = [label for label, _ in rates][::-1]
    values = [100 * rate for _, rate in rates][::-1]
    ax.barh(labels, values, color=["#cf222e" if v < 50 else "#d4a72c" if v < 80 else "#2da44e" for v in values])
    ax.set_xlim(0, 100)
    ax.set_xlabel("mean share of the item's points earned (%)")
    ax.set_title("Per-item pass rates, hardest first")
    return _png(fig)


# ---------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------

_CLASS_CSS = """
body{max-width:75rem}img{max-width:100%;height:auto}td.num{text-align:right;white-space:nowrap}
.wide{overflow-x:auto}.status-bad{color:#cf222e}.status-good{color:#1a7f37}
"""


def _e(text, limit: int = 2000) -> str:
    return html.escape(clean(text, limit))


def item_rates(rows: list[Row], columns: list[Column]) -> list[tuple[Column, float, float]]:
    """(column, mean share of points earned, share of students with full marks) per auto item,
    over graded submissions, hardest first."""
    graded = [r for r in rows if r.record.status == GRADED]
    rates = []
    for c in columns:
        if c.kind != "auto":
            continue
        shares = [r.scores[c.label] / c.points for r in graded if r.scores.get(c.label) is not None]
        if shares:
            rates.append((c, statistics.fmean(shares), sum(s >= 1 for s in shares) / len(shares)))
    return sorted(rates, key=lambda x: (x[1], x[0].label))


def class_page(rows: list[Row], columns: list[Column]) -> str:
    graded = [r for r in rows if r.record.status == GRADED]
    tallies = {r.record.slug: tally(i for _, i in r.result.items()) for r in rows}
    auto_max = max((t.auto_max for t in tallies.values()), default=0.0)
    totals = [tallies[r.record.slug].auto for r in graded]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.record.status] = statuses.get(r.record.status, 0) + 1

    body = ["<h1>Class report</h1>"]
    summary = f"{len(rows)} submissions: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    body.append(f"<p>{_e(summary)}.</p>")
    if totals:
        body.append(
            f"<p>Automatic points of the graded submissions: mean {fmt(statistics.fmean(totals))}, "
            f"median {fmt(statistics.median(totals))}, of {fmt(auto_max)}.</p>"
        )
        body.append(f'<h2>Score distribution</h2><img alt="histogram of automatic scores" src="data:image/png;base64,{histogram_png(totals, auto_max)}">')
    rates = item_rates(rows, columns)
    if rates:
        body.append("<h2>Per-item pass rates</h2>")
        body.append(f'<img alt="per-item pass rates" src="data:image/png;base64,{pass_rates_png([(c.label, m) for c, m, _ in rates])}">')
        body.append("<table><tr><th>item</th><th>title</th><th>points</th><th>mean earned</th><th>full marks</th></tr>")
        for c, mean, full in rates:
            body.append(
                f"<tr><td><code>{_e(c.label)}</code></td><td>{_e(c.title)}</td><td class=num>{fmt(c.points)}</td>"
                f"<td class=num>{mean:.0%}</td><td class=num>{full:.0%}</td></tr>"
            )
        body.append("</table>")

    body.append("<h2>Slowest submissions</h2><table><tr><th>student</th><th>status</th><th>seconds</th></tr>")
    for r in sorted(rows, key=lambda r: -r.record.seconds)[:10]:
        body.append(f"<tr><td>{_link(r)}</td><td>{_e(r.record.status)}</td><td class=num>{r.record.seconds:.1f}</td></tr>")
    body.append("</table>")

    attention = [(r, needs_person(r)) for r in rows if needs_person(r)]
    body.append(f"<h2>Needs a person ({len(attention)})</h2>")
    if attention:
        body.append("<table><tr><th>student</th><th>status</th><th>why</th></tr>")
        for r, reasons in sorted(attention, key=lambda x: (x[0].record.status == GRADED, x[0].record.student)):
            css = "status-good" if r.record.status == GRADED else "status-bad"
            body.append(f'<tr><td>{_link(r)}</td><td class="{css}">{_e(r.record.status)}</td><td>{"<br>".join(_e(x, 400) for x in reasons)}</td></tr>')
        body.append("</table>")
    else:
        body.append("<p>None: every submission was graded and no manual item is pending.</p>")

    body.append('<h2>Gradebook</h2><div class="wide"><table><tr><th>student</th><th>status</th><th>total</th>')
    body += [f'<th title="{_e(c.title, 200)}">{_e(c.label)} ({fmt(c.points)}{", manual" if c.kind == "manual" else ""})</th>' for c in columns]
    body.append("<th>seconds</th><th>why</th></tr>")
    for r in rows:
        t = tallies[r.record.slug]
        scores = r.scores
        cells = "".join(f"<td class=num>{'–' if scores.get(c.label) is None else fmt(scores[c.label])}</td>" for c in columns)
        css = "status-good" if r.record.status == GRADED else "status-bad"
        body.append(
            f'<tr><td>{_link(r)}</td><td class="{css}">{_e(r.record.status)}</td><td class=num>{fmt(t.auto + t.manual)}</td>{cells}'
            f"<td class=num>{r.record.seconds:.1f}</td><td>{_e(r.why, 600)}</td></tr>"
        )
    body.append("</table></div>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Class report</title>'
        f"<style>{REPORT_CSS}{_CLASS_CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _link(row: Row) -> str:
    return f'<a href="students/{html.escape(row.record.slug)}/report.html">{_e(row.record.student, 200)}</a>'
