"""Report writers: one GradingResult in, the files and the terminal table out.

    results.json  Gradescope's autograder schema, one test entry per rubric item
    report.md     for a person: scores, reasons, every check, explanations, manual items
    report.html   the same page, self-contained (inline CSS, no scripts, no server)
    junit.xml     one testcase per test, for CI systems

What students may see follows the rubric's visibility: a hidden item says only how many of its
checks failed. Everything the submission produced is cleaned (grader.text.clean) and escaped
for the format it lands in. results.json holds nothing that changes between two gradings of the
same submission except execution_time.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from grader.results import GradingResult, ItemResult
from grader.text import clean

STATUS_MARK = {"passed": "✓", "failed": "✗", "skipped": "–"}
STATUS_WORD = {
    "passed": "passed",
    "partial": "partly passed",
    "failed": "failed",
    "pending": "awaits a person",
    "not_run": "not run",
}


def fmt(x: float) -> str:
    """Points as people write them: 2, 1.5, 1.33."""
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else str(int(x))


def points(x: float) -> str:
    return f"{fmt(x)} point" + ("" if x == 1 else "s")


@dataclass
class Tally:
    """Points as the reports state them: automatic ones, and manual ones a person gave or still owes.

    A manual item is pending until a person scores it (batch grading's manual-score merge sets its
    score and a status other than "pending"); only then do its points count.
    """

    auto: float
    auto_max: float
    manual: float  # points a person gave, on the manual items already graded
    manual_graded_max: float
    pending: float  # points of the manual items still awaiting a person


def tally(item_results) -> Tally:
    item_results = list(item_results)
    auto = [r for r in item_results if r.item.kind == "auto"]
    graded = [r for r in item_results if r.item.kind == "manual" and r.status != "pending"]
    return Tally(
        auto=round(sum(r.score for r in auto), 4),
        auto_max=sum(r.item.points for r in auto),
        manual=round(sum(r.score for r in graded), 4),
        manual_graded_max=sum(r.item.points for r in graded),
        pending=sum(r.item.points for r in item_results if r.item.kind == "manual" and r.status == "pending"),
    )


def _manual_phrase(t: Tally, sep: str, pending_words: str) -> str:
    text = f"{sep}a person gave {fmt(t.manual)} / {points(t.manual_graded_max)}" if t.manual_graded_max else ""
    return text + (f"{sep}{pending_words.format(points(t.pending))}" if t.pending else "")


def item_output(result: ItemResult, explanation: str = "") -> str:
    """The text a student sees for one rubric item."""
    item = result.item
    if item.kind == "manual" and result.status != "pending":
        text = f"A person graded this item: {fmt(result.score)} / {points(item.points)}."
        return text + (f"\n{clean(result.reason, 2000)}" if result.reason else "")
    if item.kind == "manual":
        text = "A person grades this item; its points are not part of the automatic score yet."
        return text + (f"\n\nYour answer, for that person:\n{clean(explanation, 2000)}" if explanation else "")
    if result.status == "not_run":
        return result.reason
    lines = [f"{result.passed} of {result.counted} checks passed."]
    if item.visibility == "hidden":
        return lines[0]
    for test in result.tests:
        mark = STATUS_MARK[test.outcome]
        lines.append(f"{mark} {test.name}")
        if test.outcome != "passed" and test.message:
            lines.extend("    " + line for line in clean(test.message).splitlines())
    return "\n".join(lines)


def write_reports(result: GradingResult, report_dir: Path) -> list[Path]:
    report_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "results.json": json.dumps(results_json(result), indent=2, ensure_ascii=False) + "\n",
        "report.md": markdown(result),
        "report.html": html_page(result),
        "junit.xml": junit_xml(result),
    }
    paths = []
    for name, text in files.items():
        path = report_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------
# Gradescope
# ---------------------------------------------------------------------------------------


def results_json(result: GradingResult) -> dict:
    tests = []
    for assignment, item_result in result.items():
        item = item_result.item
        entry = {
            "name": f"{item.title} [{assignment.rubric.assignment}:{item.id}]",
            "number": item_result.number,
            "score": item_result.score,
            "max_score": float(item.points),
            "output": item_output(item_result),
            "visibility": item.visibility,
        }
        if item.kind == "auto":
            entry["status"] = "passed" if item_result.status == "passed" else "failed"
        tests.append(entry)
    return {
        "score": result.score,
        "execution_time": round(result.execution_time, 3),
        "output": summary_text(result),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "submission": result.submission,
            "partial_run": result.partial_run,
            "assignments": {
                a.rubric.assignment: _assignment_extra(a) for a in result.assignments
            },
        },
    }


def _assignment_extra(a) -> dict:
    t = tally(a.items)
    extra = {"score": a.score, "auto_max": a.auto_max, "manual_pending": t.pending}
    if t.manual_graded_max:
        extra["manual_score"] = t.manual
    return extra


def summary_text(result: GradingResult) -> str:
    parts = []
    for a in result.assignments:
        t = tally(a.items)
        line = f"{a.rubric.assignment}: {fmt(t.auto)} / {fmt(t.auto_max)} automatic points"
        line += _manual_phrase(t, "; ", "a person grades {} more")
        parts.append(line)
        parts.extend(f"  note: {clean(n, 500)}" for n in a.notes)
    if result.partial_run:
        parts.append("Only some tests ran (a selection was given), so this is not a full grade.")
    parts.extend(f"note: {clean(n, 500)}" for n in result.notes)
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------
# Terminal
# ---------------------------------------------------------------------------------------


def terminal_table(result: GradingResult, width: int = 100) -> list[str]:
    rows = [("item", "points", "why points were lost")]
    for assignment, r in result.items():
        label = f"{assignment.rubric.assignment}:{r.item.id}"
        reason = "" if r.status in ("passed", "pending") else (r.reason or STATUS_WORD[r.status])
        rows.append((label, f"{fmt(r.score)} / {fmt(r.item.points)}", reason))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    room = max(20, width - w0 - w1 - 6)
    lines = []
    for n, (a, b, c) in enumerate(rows):
        c = c if len(c) <= room else c[: room - 1] + "…"
        lines.append(f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip())
        if n == 0:
            lines.append("-" * min(width, w0 + w1 + 4 + max(len(r[2]) for r in rows)))
    t = tally(r for _, r in result.items())
    total = f"total: {fmt(t.auto)} / {fmt(t.auto_max)} automatic points" + _manual_phrase(t, "; ", "a person grades {} more")
    lines.append(total)
    return lines


# ---------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return clean(text, 300).replace("\n", " ").replace("|", "\\|")


def _md_block(text: str) -> str:
    text = clean(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def markdown(result: GradingResult) -> str:
    out = [f"# Grading report: {_md_cell(result.submission)}", ""]
    t = tally(r for _, r in result.items())
    total = f"**{fmt(t.auto)} / {fmt(t.auto_max)}** automatic points" + _manual_phrase(t, ", ", "and {} that a person grades")
    out += [total + ".", ""]
    if result.partial_run:
        out += ["> Only some tests ran (a selection was given), so this is not a full grade.", ""]
    out += [f"> {_md_cell(n)}" for n in result.notes]
    for a in result.assignments:
        out += [f"## {_md_cell(a.rubric.title)} (`{a.rubric.assignment}`): {fmt(tally(a.items).auto)} / {fmt(a.auto_max)}", ""]
        out += [f"> {_md_cell(n)}" for n in a.notes]
        out += ["| # | item | points | result | why |", "|---|---|---|---|---|"]
        for r in a.items:
            out.append(
                f"| {r.number} | {_md_cell(r.item.title)} | {fmt(r.score)} / {fmt(r.item.points)} "
                f"| {STATUS_WORD[r.status]} | {_md_cell(r.reason if r.status not in ('passed', 'pending') else '')} |"
            )
        out.append("")
        for r in a.items:
            out += [f"### {r.number} {_md_cell(r.item.title)}: {fmt(r.score)} / {fmt(r.item.points)}", ""]
            explanation = a.explanations.get(r.item.id, "")
            if r.item.kind == "manual":
                out += [_md_block(item_output(r)) if r.status != "pending" else "A person grades this item.", ""]
                if explanation:
                    out += ["The student's answer:", "", _md_block(explanation), ""]
                out += ["Reference answer, for whoever grades it:", "", _md_block(r.item.reference), ""]
                continue
            out += [_md_block(item_output(r)), ""]
            if explanation:
                out += ["The student's explanation (not scored automatically):", "", _md_block(explanation), ""]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;margin:.8rem 0}th,td{border:1px solid #d0d7de;padding:.35rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.pts{white-space:nowrap;text-align:right}
.passed{color:#1a7f37}.failed{color:#cf222e}.partial{color:#9a6700}.pending,.not_run{color:#57606a}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.6rem;white-space:pre-wrap;word-break:break-word}
.bar{height:.7rem;background:#eaeef2;border-radius:4px;overflow:hidden;max-width:24rem}.bar span{display:block;height:100%;background:#2da44e}
.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:.4rem .7rem}
details{margin:.4rem 0}summary{cursor:pointer}
"""


def _e(text, limit: int = 4000) -> str:
    return html.escape(clean(text, limit))


def html_page(result: GradingResult) -> str:
    t = tally(r for _, r in result.items())
    fraction = t.auto / t.auto_max if t.auto_max else 0.0
    body = [
        f"<h1>Grading report: {_e(result.submission)}</h1>",
        f"<p><strong>{fmt(t.auto)} / {fmt(t.auto_max)}</strong> automatic points"
        + _manual_phrase(t, ", ", "and {} that a person grades")
        + "</p>",
        f'<div class="bar" role="img" aria-label="{fraction:.0%}"><span style="width:{fraction * 100:.1f}%"></span></div>',
    ]
    if result.partial_run:
        body.append('<p class="note">Only some tests ran (a selection was given), so this is not a full grade.</p>')
    body += [f'<p class="note">{_e(n)}</p>' for n in result.notes]
    for a in result.assignments:
        body.append(f"<h2>{_e(a.rubric.title)} (<code>{_e(a.rubric.assignment)}</code>): {fmt(tally(a.items).auto)} / {fmt(a.auto_max)}</h2>")
        body += [f'<p class="note">{_e(n)}</p>' for n in a.notes]
        body.append("<table><tr><th>#</th><th>item</th><th>points</th><th>result</th><th>why</th></tr>")
        for r in a.items:
            reason = "" if r.status in ("passed", "pending") else r.reason
            body.append(
                f'<tr><td>{r.number}</td><td><a href="#item-{r.number}">{_e(r.item.title)}</a></td>'
                f'<td class="pts">{fmt(r.score)} / {fmt(r.item.points)}</td>'
                f'<td class="{r.status}">{STATUS_WORD[r.status]}</td><td>{_e(reason, 300)}</td></tr>'
            )
        body.append("</table>")
        for r in a.items:
            body.append(f'<h3 id="item-{r.number}">{r.number} {_e(r.item.title)}: {fmt(r.score)} / {fmt(r.item.points)}</h3>')
            explanation = a.explanations.get(r.item.id, "")
            if r.item.kind == "manual":
                body.append(f"<pre>{_e(item_output(r))}</pre>" if r.status != "pending" else "<p>A person grades this item.</p>")
                if explanation:
                    body.append(f"<p>The student's answer:</p><pre>{_e(explanation)}</pre>")
                body.append(f"<details><summary>Reference answer, for whoever grades it</summary><pre>{_e(r.item.reference)}</pre></details>")
                continue
            body.append(f"<pre>{_e(item_output(r), 20000)}</pre>")
            if explanation:
                body.append(f"<p>The student's explanation (not scored automatically):</p><pre>{_e(explanation)}</pre>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Grading report: {_e(result.submission, 200)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# ---------------------------------------------------------------------------------------
# JUnit XML
# ---------------------------------------------------------------------------------------

_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str, limit: int = 20000) -> str:
    return _XML_INVALID.sub("", clean(text, limit))


def junit_xml(result: GradingResult) -> str:
    suites = ET.Element("testsuites", name=_x(f"autograder: {result.submission}"))
    for a in result.assignments:
        cases = [(r, t) for r in a.items for t in r.tests]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=a.rubric.assignment,
            tests=str(len(cases) + sum(r.item.kind == "manual" for r in a.items)),
            failures=str(sum(t.outcome == "failed" for _, t in cases)),
            skipped=str(sum(t.outcome == "skipped" for _, t in cases) + sum(r.item.kind == "manual" for r in a.items)),
            time=f"{sum(t.duration for _, t in cases):.3f}",
        )
        for r in a.items:
            if r.item.kind == "manual":
                case = ET.SubElement(suite, "testcase", classname=f"{a.rubric.assignment}.{r.item.id}", name="manual")
                ET.SubElement(case, "skipped", message="awaits a person")
            for t in r.tests:
                case = ET.SubElement(
                    suite, "testcase", classname=f"{a.rubric.assignment}.{r.item.id}", name=_x(t.name, 500), time=f"{t.duration:.3f}"
                )
                if t.outcome == "failed":
                    failure = ET.SubElement(case, "error" if t.internal_error else "failure", message=_x(t.message.splitlines()[0] if t.message else "failed", 500))
                    failure.text = _x(t.message)
                elif t.outcome == "skipped":
                    ET.SubElement(case, "skipped", message=_x(t.message, 500))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
