"""Progress of a run: a terminal bar and a Prefect progress artifact, behind the pipeline's
``Progress`` callback (``Callable[[str], None]``, :mod:`flows.run.pipeline`), and a summary artifact
at the end.

The pipeline reports progress as structured events (:class:`flows.run.steps.Step`: a stage and
how many of its parts are done, beside the text a person reads); :class:`RunProgress` maps them onto
a fraction of the run — read and validate 20 %, the plan batches 70 % (by batch), writing the last
10 % — and passes each event on to the callback it wraps (the CLI's timestamped lines print its
text). Nothing parses the text.

- :class:`TerminalBar` draws on stderr only when stderr is a terminal; otherwise it is silent (the
  timestamped lines stay, as before, for logs). No dependency: a dozen lines of ANSI.
- Inside a Prefect flow run, a progress artifact (key ``prorata-run-progress``) is created at the
  first message and updated at each step — so once per plan batch — and set to 100 when the run
  has written its outputs; a markdown artifact (key ``prorata-run-summary``) then gives the counts
  and totals of the manifest. Neither carries personal data: counts, totals and stage names only.

Artifacts are a view: if the API refuses one, the run goes on and the bar keeps drawing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from flows.run.steps import READ, SPLIT, Step

PROGRESS_KEY = "prorata-run-progress"
SUMMARY_KEY = "prorata-run-summary"

READ_DONE, SPLIT_DONE = 20.0, 90.0


def percent_for(event: str | Step) -> float | None:
    """How far the run is after ``event`` (None: it does not move the run): a :class:`Step` of the
    read is 20 %, the split's steps share the next 70 % by parts done; a plain message moves nothing."""
    if not isinstance(event, Step):
        return None
    part = min(event.done, event.of) / max(event.of, 1)
    if event.stage == READ:
        return READ_DONE * part
    if event.stage == SPLIT:
        return READ_DONE + (SPLIT_DONE - READ_DONE) * part
    return None


class TerminalBar:
    """A one-line bar on a terminal: ``[########------------]  40%  plan batch 2/5 done  3.1 s``.
    Silent when the stream is not a TTY (or when quiet)."""

    WIDTH = 28

    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = not quiet and bool(isatty())
        self.start = time.perf_counter()
        self.percent, self.label, self.drawn = 0.0, "", False

    def clear(self) -> None:
        if self.enabled and self.drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.drawn = False

    def draw(self, percent: float | None = None, label: str | None = None) -> None:
        if percent is not None:
            self.percent = max(self.percent, min(percent, 100.0))
        if label is not None:
            self.label = label
        if not self.enabled:
            return
        filled = int(self.WIDTH * self.percent // 100)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        elapsed = time.perf_counter() - self.start
        self.stream.write(f"\r\x1b[2K  [{bar}] {self.percent:3.0f}%  {self.label[:60]}  {elapsed:.1f} s")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.enabled and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def _in_flow_run() -> bool:
    try:
        from prefect.context import FlowRunContext
    except ImportError:  # pragma: no cover - prefect is a dependency
        return False
    return FlowRunContext.get() is not None


class RunProgress:
    """The pipeline's ``Progress`` callback with a terminal bar and a Prefect progress artifact."""

    def __init__(self, sink: Callable[[str], None] | None = None, bar: TerminalBar | None = None):
        self.sink = sink
        self.bar = bar
        self.percent = 0.0
        self.artifact_id = None
        self.artifact_failed: str | None = None  # the exception's type name, never its text
        self.sent: list[float] = []  # what the artifact was set to, in order (for tests and logs)
        self.finished = False

    @classmethod
    def for_cli(cls, sink: Callable[[str], None], quiet: bool) -> RunProgress:
        return cls(sink, TerminalBar(sys.stderr, quiet=quiet))

    def __call__(self, event: str | Step) -> None:
        if self.bar:
            self.bar.clear()
        if self.sink:
            self.sink(event)
        pct = percent_for(event)
        if pct is not None and pct > self.percent:
            self.percent = pct
            self._artifact(pct)
        if self.bar:
            self.bar.draw(self.percent, str(event))

    def _artifact(self, pct: float) -> None:
        if self.artifact_failed or not _in_flow_run():
            return
        try:
            from prefect.artifacts import create_progress_artifact, update_progress_artifact

            if self.artifact_id is None:
                self.artifact_id = create_progress_artifact(
                    pct, key=PROGRESS_KEY, description="prorata run: read, plan batches, write"
                )
            else:
                update_progress_artifact(self.artifact_id, pct)
            self.sent.append(pct)
        except Exception as exc:  # a view only: the run goes on
            self.artifact_failed = type(exc).__name__

    def finish(self, manifest: dict | None = None) -> None:
        """The run is over: 100 %, the bar closed, and inside a flow run the summary artifact."""
        if self.percent < 100.0:
            self.percent = 100.0
            self._artifact(100.0)
        if manifest is not None and _in_flow_run() and not self.finished:
            publish_summary(manifest)
        self.finished = self.finished or manifest is not None
        if self.bar and self.bar.percent < 100.0:
            self.bar.draw(100.0, "done")
            self.bar.close()


def for_flow(progress: Callable[[str], None] | None) -> RunProgress:
    """The flow's callback: the caller's own when it is a :class:`RunProgress`, else one wrapping it
    (so every flow run — a nightly one too — gets its progress artifact)."""
    return progress if isinstance(progress, RunProgress) else RunProgress(progress)


def finished(progress: Callable[[str], None] | None, manifest: dict) -> None:
    """Called by the flow once the outputs are written."""
    if isinstance(progress, RunProgress):
        progress.finish(manifest)


def summary_markdown(manifest: dict) -> str:
    """The run's summary for the Prefect UI: ids, counts and totals from the manifest."""
    rows = manifest["rows"]["distributions"]
    forms = manifest["forms"]
    lines = [
        f"# prorata run {manifest['run_id']}",
        "",
        f"- extract `{manifest['extract_id']}`, tax year {manifest['tax_year']}",
        f"- disbursements: {rows['in']:,} in, {rows['out']:,} out, {rows['quarantined']:,} quarantined",
        f"- forms 1099-R: {forms['count']:,} ({forms.get('to_file', 0):,} to file)",
        "",
        "| box | total (cents) |",
        "|---|---:|",
    ]
    lines += [f"| {k.removesuffix('_cents')} | {v:,} |" for k, v in manifest["totals"].items()]
    if manifest.get("quarantine_by_rule"):
        lines += ["", "| quarantine rule | rows |", "|---|---:|"]
        lines += [f"| {k} | {v:,} |" for k, v in manifest["quarantine_by_rule"].items()]
    secs = manifest.get("stage_seconds") or {}
    if secs:
        lines += ["", "stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in secs.items())]
    return "\n".join(lines) + "\n"


def publish_summary(manifest: dict) -> None:
    try:
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(
            summary_markdown(manifest), key=SUMMARY_KEY, description="prorata run summary"
        )
    except Exception:  # a view only
        pass
