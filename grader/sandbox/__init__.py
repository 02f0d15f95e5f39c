"""Running untrusted submission code in a worker process and getting plain data back."""

from .client import (
    AdapterMissing,
    BadResult,
    CallTimedOut,
    Limits,
    MemoryLimitExceeded,
    NotImplementedBySubmission,
    Sandbox,
    StaleHandle,
    SubmissionError,
    SubmissionExited,
    SubmissionImportError,
    SubmissionMissing,
    SubmissionRaised,
    WorkerDied,
)
from .transport import Handle

__all__ = [
    "AdapterMissing",
    "BadResult",
    "CallTimedOut",
    "Handle",
    "Limits",
    "MemoryLimitExceeded",
    "NotImplementedBySubmission",
    "Sandbox",
    "StaleHandle",
    "SubmissionError",
    "SubmissionExited",
    "SubmissionImportError",
    "SubmissionMissing",
    "SubmissionRaised",
    "WorkerDied",
]
