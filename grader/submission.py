"""One student's folder for one assignment, as the grader's tests see it.

Tests get it through the `submission` fixture (or `adapters`, its adapter functions):

    def test_forward_shape(adapters):
        logits = adapters.gpt2_forward(config, state_dict, tokens)   # runs in the sandbox
        assert_tensor(logits, shape=(2, 8, 50257), dtype=torch.float32)

    def test_q2_choice(submission):
        check_answer(submission, "q2.choice")                        # reads answers.toml
"""

from __future__ import annotations

import dataclasses
import sys
from functools import cached_property
from pathlib import Path

from grader.answers import AnswerError, read_answer_key, read_answers
from grader.rubric import Rubric
from grader.sandbox import Sandbox


class Submission:
    def __init__(self, assignment: str, folder: Path, rubric: Rubric, spec_dir: Path, extra_env: dict | None = None):
        self.assignment = assignment
        self.folder = folder
        self.rubric = rubric
        self.spec_dir = spec_dir
        self.extra_env = extra_env or {}
        self._answers: dict | AnswerError | None = None
        self._sandbox: Sandbox | None = None

    def __repr__(self) -> str:  # shown in hypothesis's failing examples: keep it stable
        return f"<submission for {self.assignment}>"

    # Written answers ------------------------------------------------------------------

    @property
    def answers(self) -> dict:
        """answers.toml, parsed; raises AnswerError (with a message for the student) if unusable."""
        if self._answers is None:
            try:
                self._answers = read_answers(self.folder / "answers.toml")
            except AnswerError as exc:
                self._answers = exc
        if isinstance(self._answers, AnswerError):
            raise AnswerError(str(self._answers))
        return self._answers

    @cached_property
    def answer_key(self) -> dict:
        """specs/<id>/answer_key.toml flattened to {"q1.intercept": {...}, ...}."""
        flat = {}

        def walk(node, prefix):
            for name, value in node.items():
                key = f"{prefix}{name}"
                if isinstance(value, dict) and "type" in value:
                    flat[key] = value
                elif isinstance(value, dict):
                    walk(value, key + ".")

        walk(read_answer_key(self.spec_dir / "answer_key.toml"), "")
        return flat

    def explanation(self, dotted: str) -> str:
        """A free-text answer for the report, or "" when there is none."""
        try:
            node = self.answers
        except AnswerError:
            return ""
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, str) else ""

    # Code -----------------------------------------------------------------------------

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            limits = self.rubric.limits
            if _cuda_visible():  # CUDA reserves far more virtual memory than it uses: cap resident memory only
                limits = dataclasses.replace(limits, address_space=False)
            self._sandbox = Sandbox(self.folder, self.assignment, limits, extra_env=self.extra_env)
        return self._sandbox

    def call(self, function: str, *args, timeout: float | None = None, keep: bool = False, **kwargs):
        """adapters.<function>(*args, **kwargs), run in the sandbox; plain data (or a Handle) back."""
        return self.sandbox.call(function, args, kwargs, timeout=timeout, keep=keep)

    def call_ranks(self, function: str, rank_args: list, *, backend: str | None = None, timeout: float | None = None) -> list:
        """adapters.<function>(*args, **kwargs) on each rank of a process group, one (args, kwargs) per rank."""
        return self.sandbox.call_ranks(function, rank_args, backend=backend, timeout=timeout)

    @property
    def adapters(self) -> "Adapters":
        return Adapters(self)

    def begin_test(self) -> None:
        if self._sandbox is not None:
            self._sandbox.begin_test()

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None


def _cuda_visible() -> bool:
    torch = sys.modules.get("torch")  # answer-only assignments never import torch
    return torch is not None and torch.cuda.is_available()


class Adapters:
    """`adapters.name(*args, **kwargs)` calls the submission's adapter `name` in the sandbox."""

    def __init__(self, submission: Submission, timeout: float | None = None):
        self._submission = submission
        self._timeout = timeout

    def __repr__(self) -> str:  # shown in hypothesis's failing examples: keep it stable
        return f"<adapters of {self._submission.assignment}>"

    def with_timeout(self, seconds: float) -> "Adapters":
        return Adapters(self._submission, seconds)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return self._submission.sandbox.call(name, args, kwargs, timeout=self._timeout)

        call.__name__ = name
        return call
