"""Progress of a run as structured events: where the run is, not text to be parsed.

The run says what it did as a :class:`Step` — the text a person reads (``str(step)``, what the
command line prints and the logs keep) and, apart from it, the stage and how many of its parts are
done. The views (the terminal bar, Prefect's progress artifact: ``flows.prefect.progress``) read the
numbers; a plain string is a message that moves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

READ, SPLIT = "read", "split"
"""The stages a step reports on: read and validate; split (the plan batches, or the partitions of a
large extract)."""


@dataclass(frozen=True)
class Step:
    """``done`` of ``of`` parts of ``stage`` are done; ``text`` says it for a person."""

    text: str
    stage: str
    done: int = 1
    of: int = 1

    def __str__(self) -> str:
        return self.text


Progress = Callable[[str | Step], None]
"""The run's progress callback: a :class:`Step`, or a message that moves nothing."""
