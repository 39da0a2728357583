"""Faults as one line: what reaches the terminal, the logs and Prefect.

- :class:`FileSystemFault`: a full disk, a read-only folder, a missing permission — one line naming
  the path and the problem (``strerror``), from whichever library hit it (:func:`on_disk`).
- :func:`scrubbed`: the body of a Prefect task or flow raises only exceptions whose text we wrote.
  Any other exception (a polars error quotes the values it failed on, a TIN among them) becomes an
  :class:`InternalError` naming its type and the step, so no data reaches Prefect's logs, run
  states or result storage (Prefect pickles a failed task's exception there even without
  ``persist_result``).
- :func:`printable`: ids and paths from an extract or the command line, with control characters
  escaped, so an ``extract_id`` holding escape codes or a newline never reaches a terminal raw.
- :func:`on_signal`, :func:`raise_if_signalled`: Ctrl-C and SIGTERM remembered, so that one Python
  swallowed (raised inside a finaliser: "Exception ignored in ...") still stops the command before
  its outputs are put in place.
- :func:`crash_point`: the test hook that kills the process at a named step.
"""

from __future__ import annotations

import contextlib
import errno as errnos
import functools
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from flows.environment import BadVariable, Environment, environment

F = TypeVar("F", bound=Callable)


class FileSystemFault(OSError):
    """The file system refused a read or a write. ``str(err)`` is ``PATH: problem``: no library
    text (which may quote more than a path)."""

    def __init__(self, path: Path | str, code: int, doing: str = ""):
        super().__init__(code, os.strerror(code), str(path))
        self.doing = doing

    def __str__(self) -> str:
        what = f"{self.doing}: " if self.doing else ""
        return f"{printable(str(self.filename))}: {what}{self.strerror}"

    def __reduce__(self):
        return (type(self), (self.filename, self.errno, self.doing))


class OperatorError(Exception):
    """A fault an operator can act on (a settings file, OUT_DIR, the store, our own IRS file): its
    text is ours — a file or an id and the problem, never a value —, one line on stderr, exit
    status 2. Each such error of flows/ is a subclass."""


class InternalError(Exception):
    """An unexpected failure, reduced to its type and the step it happened in (never its text)."""

    def __init__(self, kind: str, step: str):
        super().__init__(f"unexpected {kind} in {step}")
        self.kind, self.step = kind, step

    def __reduce__(self):
        return (type(self), (self.kind, self.step))


_ERRNO_IN_TEXT = re.compile(r"\((?:os error|errno) (\d+)\)|\[errno (\d+)\]", re.IGNORECASE)
FILE_SYSTEM_ERRNOS = frozenset(
    {
        errnos.ENOSPC,
        errnos.EDQUOT,
        errnos.EROFS,
        errnos.EACCES,
        errnos.EPERM,
        errnos.EIO,
        errnos.EXDEV,
        errnos.EBUSY,
        errnos.EMFILE,
        errnos.ENFILE,
        errnos.EFBIG,
        errnos.ENAMETOOLONG,
    }
)


def os_errno(exc: BaseException) -> int | None:
    """The ``errno`` behind ``exc``: an OSError's own, or the one a Rust library (polars, delta-rs)
    or Arrow writes into its message ("(os error 28)", "[errno 28]"); None for any other error."""
    code = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    if code is None:
        match = _ERRNO_IN_TEXT.search(str(exc))
        code = int(match.group(1) or match.group(2)) if match else None
    return code if code in FILE_SYSTEM_ERRNOS else None


@contextlib.contextmanager
def on_disk(path: Path | str, doing: str = "") -> Iterator[None]:
    """Turn a file-system failure inside the block into one :class:`FileSystemFault` naming
    ``path`` (the folder the command was writing); every other exception passes unchanged."""
    try:
        yield
        return
    except FileSystemFault:
        raise
    except Exception as exc:
        code = os_errno(exc)
        if code is None:
            raise
    raise FileSystemFault(path, code, doing)  # outside the except block: no chained library text


def operator_errors() -> tuple[type[BaseException], ...]:
    """Faults an operator can act on: their text is ours (a file or id and the problem, never a
    value), one line on stderr, exit status 2."""
    from contracts.loading import ExtractError
    from transforms.irs import FilingInputError

    return (ExtractError, FilingInputError, OperatorError, FileSystemFault, BadVariable)


def _ours() -> tuple[type[BaseException], ...]:
    """The exceptions a Prefect body may raise as they are: ours, and Prefect's own (a failed or
    cancelled run inside the flow, whose message is a state message — ours again)."""
    prefect = sys.modules.get("prefect.exceptions")
    return (*operator_errors(), InternalError, *((prefect.PrefectException,) if prefect else ()))


#: Set by ``prorata --debug``: exceptions pass as they are (text and all).
DEBUG = Environment.variable("debug")


def scrubbed(step: str) -> Callable[[F], F]:
    """Decorate the body of a Prefect task or flow: an exception whose text is not ours leaves it
    as :class:`InternalError` ("unexpected InvalidOperationError in split-plan-batch") — except
    under ``prorata --debug``, whose point is the whole traceback (to Prefect too)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def body(*args, **kwargs):
            kind = None
            try:
                return fn(*args, **kwargs)
            except _ours():
                raise
            except Exception as exc:
                if environment().debug:
                    raise
                kind = type(exc).__name__
            raise InternalError(kind, step)  # outside the except block: the original is not chained

        return body  # type: ignore[return-value]

    return wrap


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def _escaped(ch: str) -> str:
    if ch.isprintable():
        return ch
    code = ord(ch)
    return _ESCAPES.get(ch) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    )


def printable(text: object) -> str:
    """``text`` with control and format characters (ANSI escape codes, newlines, bidi overrides,
    line separators) written as escapes: safe to print on a terminal, on one line."""
    s = str(text)
    return s if s.isprintable() else "".join(_escaped(ch) for ch in s)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs (staging folders removed, the
    Prefect flow run reported as crashed, the temporary Prefect server stopped)."""


_signalled: set[int] = set()


def on_signal(signum: int, frame: object) -> None:
    """The command's handler of SIGINT and SIGTERM: remembered, then raised (``KeyboardInterrupt``,
    :class:`Terminated`). Python runs a handler between two bytecodes of the main thread; when those
    are a finaliser's, the exception is printed as "Exception ignored" and dropped — the memory is
    what still stops the command (:func:`raise_if_signalled`)."""
    _signalled.add(signum)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def forget_signals() -> None:
    """A new command starts uninterrupted (the tests run several in one process)."""
    _signalled.clear()


def raise_if_signalled() -> None:
    """Raise the interruption again if one arrived (called before outputs are put in place)."""
    if signal.SIGTERM in _signalled:
        raise Terminated()
    if _signalled:
        raise KeyboardInterrupt()


def crash_point(name: str) -> None:
    """Test hook (docs/OPERATIONS.md): ``PRORATA_CRASH_AFTER=name`` kills this process with SIGKILL
    right after the step ``name`` — no cleanup, no finally blocks, as a power cut would."""
    if environment().crash_after == name:
        os.kill(os.getpid(), signal.SIGKILL)
