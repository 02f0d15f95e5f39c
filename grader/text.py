"""Making untrusted text safe to show: in a terminal, a Markdown or HTML report, a JSON file.

Everything a submission produced (exception messages, printed output, answers) passes through
clean() before it reaches a report, so escape sequences cannot repaint a terminal and a
megabyte of output cannot bury the message that matters.
"""

import re

# CSI and OSC escape sequences, then every other C0/C1 control character except tab and newline,
# and the Unicode bidirectional overrides, which make text display in an order other than its own.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text, limit: int = 4000) -> str:
    """Strip terminal control sequences and shorten to at most about `limit` characters."""
    if not isinstance(text, str):
        text = str(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", _ESCAPES.sub("", text))
    if len(text) > limit:
        head = limit // 3
        tail = limit - head
        text = f"{text[:head]}\n... [{len(text) - limit} characters cut] ...\n{text[-tail:]}"
    return text


def first_line(text: str, limit: int = 160) -> str:
    """The first non-empty line, shortened: the one-line reason in the score table."""
    for line in clean(text, limit=10 * limit).splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""
