"""Every ``PRORATA_*`` environment variable, read and checked in one place.

Settings of the filing live in ``prorata.toml`` (:mod:`flows.settings`); the environment holds only
what an operator or a test tunes for one process. Each variable is a field of :class:`Environment`,
read by :func:`environment` when a command uses it — never at import, so a test or a long-lived
process that changes the environment is heard. The table of docs/OPERATIONS.md ("Environment
variables") is this class's, field by field; ``tests/flows/test_environment.py`` holds them equal.

=============================== ============================ =============================================
variable                        field                        meaning
=============================== ============================ =============================================
PRORATA_READ_WHOLE_ROWS         read_whole_rows              up to this many disbursements the extract is
                                                             read and validated at once (10,000,000)
PRORATA_READ_PARTITION_ROWS     read_partition_rows          above it, partitions of at most this many
                                                             disbursements (5,000,000)
PRORATA_PARTITION_ROWS          partition_rows               disbursements per plan batch of the engine
                                                             (2,000,000)
PRORATA_ENGINE_THREADS          engine_threads               runs of events the engine computes at once
                                                             (unset: polars' thread pool decides)
PRORATA_IRS_GROUP_ROWS          irs_group_rows               returns per group of the IRS file
                                                             (unset: transforms.irs.grouped's 2,000,000)
PRORATA_IRS_FILE_SINK           irs_file_sink                ``file`` (default) or ``discard``: the run's
                                                             IRS file checked, counted, not kept (bench)
PRORATA_IRIS_SCHEMA_PACKAGE     iris_schema_package          the IRS's IRIS A2A package when prorata.toml
                                                             names none
PRORATA_IRIS_VALIDATION         iris_validation              ``records`` (default): a run's IRIS file
                                                             checked by records' shape and value;
                                                             ``full``: parsed whole (a filing always is)
PRORATA_SAMPLE_SHARD_ROWS       sample_shard_rows            ``prorata sample`` builds larger extracts in
                                                             shards of this many (2,000,000)
PRORATA_PREFECT_SERVER_IDLE_MINUTES
                                prefect_server_idle_minutes  minutes the temporary Prefect server of a
                                                             PREFECT_HOME stays up after its last command
                                                             (10; a decimal number; 0: it ends with the
                                                             command that started it)
PRORATA_GROUP_READABLE          group_readable               ``1``: outputs readable by the group too
PRORATA_DEBUG                   debug                        set by ``prorata --debug``: exceptions as
                                                             they are
PRORATA_CRASH_AFTER             crash_after                  test hook: SIGKILL after the named step
=============================== ============================ =============================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

PREFIX = "PRORATA_"
TRUE = ("1", "true", "yes")


class BadVariable(ValueError):
    """A ``PRORATA_*`` variable holds what it cannot mean; the message names it."""


@dataclass(frozen=True)
class Environment:
    """The ``PRORATA_*`` variables of one process, typed (the table of the module docstring)."""

    read_whole_rows: int = 10_000_000
    read_partition_rows: int = 5_000_000
    partition_rows: int = 2_000_000
    engine_threads: int | None = None
    irs_group_rows: int | None = None
    irs_file_sink: str = "file"
    iris_schema_package: str = ""
    iris_validation: str = "records"
    sample_shard_rows: int = 2_000_000
    prefect_server_idle_minutes: float = 10.0
    group_readable: bool = False
    debug: bool = False
    crash_after: str = ""

    @staticmethod
    def variable(field: str) -> str:
        """The environment variable of a field: ``partition_rows`` → ``PRORATA_PARTITION_ROWS``."""
        return PREFIX + field.upper()

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> Environment:
        """The variables of ``environ`` (unset or empty: the default), each checked."""
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = environ.get(cls.variable(field.name), "").strip()
            if not raw:
                continue
            if field.type == "bool":
                values[field.name] = raw.lower() in TRUE
            elif field.type == "float":
                values[field.name] = _minutes(cls.variable(field.name), raw)
            elif field.type.startswith("int"):
                values[field.name] = _whole(cls.variable(field.name), raw)
            elif field.name == "iris_validation":  # in any case, as it always was read
                values[field.name] = _one_of(cls.variable(field.name), raw.lower(), ("records", "full"))
            elif field.name == "irs_file_sink":
                values[field.name] = _one_of(cls.variable(field.name), raw, ("file", "discard"))
            else:
                values[field.name] = raw
        return cls(**values)


def _whole(name: str, raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise BadVariable(f"{name} must be a whole number, 1 or more (got {raw!r})")
    return int(raw)


def _minutes(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0 <= value < float("inf")):
        raise BadVariable(f"{name} must be a number of minutes, 0 or more (got {raw!r})")
    return value


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise BadVariable(f"{name} must be {' or '.join(allowed)} (got {value!r})")
    return value


def environment() -> Environment:
    """The process's ``PRORATA_*`` variables as they are now."""
    return Environment.read(os.environ)
