"""Writing OUT_DIR atomically: everything goes to a staging folder beside OUT_DIR first, and the
staging folder takes OUT_DIR's place in one step once complete.

- **Only prorata's own folders are replaced.** OUT_DIR may be new, empty, or a folder prorata wrote:
  its ``manifest.json`` is prorata's (by content: :class:`Kind`) and it holds only the files that
  kind of folder has. Anything else is refused with one line before any work (exit status 2).
- **OUT_DIR is the old or the new result at every instant.** The staging folder and OUT_DIR are
  exchanged by one ``renameat2(RENAME_EXCHANGE)`` (Linux 3.15+: ext4, xfs, btrfs, tmpfs, …), after
  the staged files are on disk (fsync); the old result, now at the staging path, is then removed.
  Where the file system cannot exchange, two renames are used, rolled back on failure; a run killed
  between them leaves the earlier result in ``.OUT_DIR.old-*``, which the next run restores.
- **Leftovers of killed runs are cleaned.** A staging folder is locked (``flock``) by the process
  that writes it; the next run removes every unlocked ``.OUT_DIR.tmp-*`` / ``.OUT_DIR.old-*`` beside
  OUT_DIR (they hold names and addresses) before it starts (:func:`clean_stale`).
- **File-system faults are one line.** A full disk, a read-only folder or a missing permission while
  writing is a :class:`flows.errors.FileSystemFault` naming OUT_DIR; an OUT_DIR that is a mount
  point, or whose folder cannot be written, is refused before the computation
  (:func:`check_writable`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from flows.errors import OperatorError, crash_point, on_disk, printable, raise_if_signalled

MARKER = "manifest.json"
SOFTWARE = "prorata"  # manifest.json "software": the folder is prorata's


class OutputError(OperatorError):
    """OUT_DIR cannot be written; the message is the one line for stderr."""


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest.json, or None when it is missing or not a JSON object."""
    try:
        manifest = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


@dataclass(frozen=True)
class Kind:
    """A kind of folder prorata writes: how its manifest.json is recognised, and the names it holds."""

    name: str
    files: frozenset[str]
    owns: Callable[[dict], bool]


RUN_KEYS = frozenset({"run_id", "input_sha256", "software_version", "rows", "totals"})
RUN = Kind(
    "run",
    frozenset(
        {
            MARKER,
            "distributions.parquet",
            "forms.parquet",
            "quarantine.parquet",
            "edit_checks.parquet",
            "tieout_945.parquet",
            "explain.parquet",
            "recipients.parquet",
            "payers.parquet",
            "accounts.parquet",
            "irs",
            "statements",  # prorata statements OUT_DIR (its default --dest)
            "export",  # prorata run --export
        }
    ),
    # "software" since this version; the keys alone for a run written before it (a reconciliation's
    # manifest has a "kind", and some of the run's keys)
    lambda m: "kind" not in m and (m.get("software") == SOFTWARE and "run_id" in m or m.keys() >= RUN_KEYS),
)
FILING = Kind(
    "filing",
    frozenset(
        {
            MARKER,
            "irs",
            "records.parquet",
            "corrections.parquet",
            "held.parquet",
            "review.html",
            "review.csv",
            "export",  # prorata corrections --export
            "statements",  # prorata statements --corrections
        }
    ),
    lambda m: "filing_id" in m and "kind" in m,
)
KINDS = (RUN, FILING)


def foreign_reason(out_dir: Path, kinds: tuple[Kind, ...] = KINDS) -> str | None:
    """Why ``out_dir`` may not be replaced by a folder of one of ``kinds`` (None: it may — it is
    absent, empty, or prorata's, holding only that kind's names)."""
    if not out_dir.exists() and not out_dir.is_symlink():
        return None
    if not out_dir.is_dir():
        return "exists and is not a folder"
    try:
        entries = sorted(p.name for p in out_dir.iterdir())
    except OSError as exc:
        return f"cannot be listed ({exc.strerror})"
    if not entries:
        return None
    manifest = read_manifest(out_dir)
    kind = next((k for k in kinds if manifest is not None and k.owns(manifest)), None)
    if kind is None:
        return "exists and is not a prorata output folder (no prorata manifest.json)"
    foreign = [name for name in entries if name not in kind.files]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        return f"holds '{printable(foreign[0])}'{more}, which prorata did not write"
    return None


def check_target(out_dir: Path, kinds: tuple[Kind, ...] = (RUN,)) -> None:
    """Refuse early to replace a folder that is not prorata's own (its manifest, its files)."""
    reason = foreign_reason(out_dir, kinds)
    if reason:
        raise OutputError(f"{printable(out_dir)}: {reason}; choose another --out")


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(out_dir: Path) -> None:
    """Before any work: OUT_DIR is not a mount point (it is replaced whole, by a rename within its
    folder) and a folder can be created beside it."""
    out_dir = out_dir.resolve()
    if out_dir.is_dir() and os.path.ismount(out_dir):
        raise OutputError(
            f"{printable(out_dir)}: is a mount point, which cannot be replaced; give a folder inside it"
        )
    parent = _existing_ancestor(out_dir.parent)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{out_dir.name}.probe-", dir=parent))
    except OSError as exc:
        raise OutputError(f"{printable(parent)}: cannot create OUT_DIR here ({exc.strerror})") from None


def check_parent(path: Path, option: str = "--out") -> None:
    """A folder named on the command line must be in a folder that exists: a mistyped parent is an
    error, never a new tree of folders."""
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise OutputError(f"{parent}: no such folder; create it first or check the {option} path")


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Deterministic Parquet: same frame, same bytes (no statistics timestamps, fixed compression)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(
        path, compression="zstd", compression_level=3, statistics=True, row_group_size=1_000_000
    )


def write_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


# ---- the swap -----------------------------------------------------------------------------------

_AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
_CANNOT_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def _renameat2(src: Path, dst: Path, flags: int) -> None:
    """Linux ``renameat2``; OSError(ENOSYS) where the C library does not have it."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS), str(src))
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), ctypes.c_uint(flags)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(src), None, str(dst))


def exchange(a: Path, b: Path) -> None:
    """Swap two folders in one atomic step (``RENAME_EXCHANGE``)."""
    _renameat2(a, b, RENAME_EXCHANGE)


def _fsync_tree(root: Path) -> None:
    """Every file and folder under ``root`` on disk, so the swap never exposes unwritten data."""
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    """The process's umask (set for a moment to 0o077, stricter than any, to read it)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _lock(folder: Path) -> int:
    """An exclusive ``flock`` on a folder, held until the descriptor is closed (or the process
    dies): a locked staging folder belongs to a live run."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _try_lock(folder: Path) -> int | None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _leftovers(out_dir: Path) -> Iterator[tuple[str, Path]]:
    """("tmp" | "old", path) for the staging and old folders of ``out_dir``, beside it."""
    prefixes = {f".{out_dir.name}.tmp-": "tmp", f".{out_dir.name}.old-": "old"}
    with contextlib.suppress(OSError):
        for path in out_dir.parent.iterdir():
            for prefix, what in prefixes.items():
                if path.name.startswith(prefix) and path.is_dir() and not path.is_symlink():
                    yield what, path


def clean_stale(out_dir: Path, kinds: tuple[Kind, ...] = KINDS) -> list[str]:
    """What killed runs left beside ``out_dir``: an earlier result (a folder of one of ``kinds``) in
    ``.old-*`` is put back when OUT_DIR is gone; every other unlocked staging or old folder is
    removed. Returns what was done."""
    done = []
    for what, path in sorted(_leftovers(out_dir), key=lambda wp: wp[0] != "old"):
        fd = _try_lock(path)
        if fd is None:  # a live run's folder
            continue
        try:
            if what == "old" and not out_dir.exists() and foreign_reason(path, kinds) is None:
                os.rename(path, out_dir)
                done.append(f"restored {path.name}")
            else:
                shutil.rmtree(path)
                done.append(f"removed {path.name}")
        finally:
            os.close(fd)
    return done


class StagedOutput:
    """A staging folder beside OUT_DIR, swapped into place by :meth:`commit` (module docstring).

    ``kinds``: the kinds of prorata folder OUT_DIR may already be (:func:`check_target`)."""

    def __init__(self, out_dir: Path, kinds: tuple[Kind, ...] = KINDS):
        self.out_dir = out_dir.resolve()
        self.kinds = kinds
        check_target(self.out_dir, kinds)
        with on_disk(self.out_dir.parent, "cannot create the staging folder"):
            self.out_dir.parent.mkdir(parents=True, exist_ok=True)
            clean_stale(self.out_dir, kinds)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.tmp-", dir=self.out_dir.parent))
            self.path.chmod(0o777 & ~_umask())  # the future OUT_DIR: as the umask says (mkdtemp: 0700)
        self._fd: int | None = _lock(self.path)

    def commit(self) -> None:
        """Swap the staging folder into place (OUT_DIR is the old or the new result throughout),
        then remove the old result. A Ctrl-C or SIGTERM that arrived meanwhile stops it here, even
        if Python dropped its exception (:func:`flows.errors.raise_if_signalled`)."""
        raise_if_signalled()
        check_target(self.out_dir, self.kinds)  # nothing foreign appeared at OUT_DIR meanwhile
        with on_disk(self.out_dir, "cannot put the new outputs in place"):
            _fsync_tree(self.path)
            crash_point("swap:staged")
            if self.out_dir.exists():
                self._replace()
            else:
                self._move_in()
            _fsync_dir(self.out_dir.parent)
        self._unlock()
        crash_point("swap:done")

    def _move_in(self) -> None:
        try:
            _renameat2(self.path, self.out_dir, RENAME_NOREPLACE)
        except OSError as exc:
            if exc.errno not in _CANNOT_EXCHANGE:
                raise
            os.rename(self.path, self.out_dir)

    def _replace(self) -> None:
        try:
            exchange(self.path, self.out_dir)
        except OSError as exc:
            if exc.errno not in _CANNOT_EXCHANGE:
                raise
            self._replace_by_renames()
            return
        crash_point("swap:exchanged")  # the old result is at the staging path until removed
        shutil.rmtree(self.path, ignore_errors=True)

    def _replace_by_renames(self) -> None:
        """Where the file system cannot exchange: OUT_DIR to ``.old-*`` (locked), the staging folder
        to OUT_DIR, the old folder removed; the first rename is undone if the second fails, and a
        run killed between them is undone by the next (:func:`clean_stale`)."""
        old = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.old-", dir=self.out_dir.parent))
        os.rmdir(old)
        old_fd = _lock(self.out_dir)
        try:
            os.rename(self.out_dir, old)
            crash_point("swap:old-aside")
            try:
                os.rename(self.path, self.out_dir)
            except BaseException:
                os.rename(old, self.out_dir)
                raise
            shutil.rmtree(old, ignore_errors=True)
        finally:
            os.close(old_fd)

    def _unlock(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._unlock()

    def __enter__(self) -> StagedOutput:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()


ROW_GROUP_ROWS = 1_000_000  # every output file: row groups of exactly this many rows (the last fewer)
RUN_ROW_GROUP_ROWS = 65_536  # the temporary runs: small row groups, so a slice reads little


MERGE_WINDOW_ROWS = 8_000_000
"""Keys a merge holds at once, shared by its runs (each run's window is at least a run row group)."""


def _merge_order(
    read: Callable[[int, int, int], pl.DataFrame], heights: list[int], keys: list[str], unique: bool
) -> Iterator[tuple[pl.Series, pl.Series | None]]:
    """The runs merged by key, a piece at a time: which run each row comes from (``_run``, in the
    merged order) and, with ``unique``, whether the row is kept (its key is not the key of the row
    before it). ``read(run, offset, n)`` gives the key columns of ``n`` rows of a run from ``offset``.

    The order is the stable sort of every run's rows one run after the other (ties: earlier runs
    first, a run's rows in their order), found holding a window of each run's keys instead of all
    of them: the windows are sorted together, and every row up to the *bound* is final — the bound is
    the last row held of the run that still has rows on disk and whose last held key is the smallest
    (ties: the earliest such run). A row after it either has a larger key, or the bound's key and a
    later run than the bound's, so a row still on disk (of a run with a larger last key, or of the
    bound's own run, or of a later run with the same key) cannot come before it. Keys are never null
    (they are ids the contracts require)."""
    window = max(RUN_ROW_GROUP_ROWS, MERGE_WINDOW_ROWS // max(len(heights), 1))
    held: list[pl.DataFrame] = [read(i, 0, 0) for i in range(len(heights))]
    read_to = [0] * len(heights)
    last_key: pl.DataFrame | None = None  # the key of the last row given (unique)
    while True:
        for i, height in enumerate(heights):  # top up a run's window once it is half used
            if read_to[i] < height and 2 * held[i].height < window:
                more = read(i, read_to[i], window)
                read_to[i] += more.height
                held[i] = pl.concat([held[i], more]) if held[i].height else more
        if not any(frame.height for frame in held):
            return
        pending = [i for i, height in enumerate(heights) if read_to[i] < height]
        rows = pl.concat(
            [
                frame.with_columns(
                    pl.lit(i, pl.UInt32).alias("_run"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("_at")
                )
                for i, frame in enumerate(held)
                if frame.height
            ]
        ).sort(keys, maintain_order=True)
        if pending:
            lasts = pl.concat(
                [held[i].tail(1).with_columns(pl.lit(i, pl.UInt32).alias("_run")) for i in pending]
            ).sort(keys, maintain_order=True)
            run = lasts.item(0, "_run")
            bound = (pl.col("_run") == run) & (pl.col("_at") == held[run].height - 1)
            end = int(rows.select(bound.arg_max()).item()) + 1
            rows = rows.slice(0, end)
        for run, n in rows.get_column("_run").value_counts().rows():
            held[run] = held[run].slice(n)
        keep = None
        if unique:  # a row whose key is the key of the row before it (in any piece): a copy
            framed = rows.select(keys) if last_key is None else pl.concat([last_key, rows.select(keys)])
            same = pl.all_horizontal(pl.col(k) == pl.col(k).shift(1) for k in keys).fill_null(False)
            keep = framed.select(~same).to_series().slice(framed.height - rows.height)
            last_key = rows.select(keys).tail(1)
        yield rows.get_column("_run"), keep


def _row_groups(
    pieces: Iterable[tuple[pl.Series, pl.Series | None]],
) -> Iterator[tuple[pl.Series, pl.Series | None]]:
    """The merged order cut into row groups of :data:`ROW_GROUP_ROWS` kept rows (the last fewer): a
    group ends at its last kept row once a kept row follows it (rows dropped after it go with the
    next group, and the last group takes what is left)."""
    runs: list[pl.Series] = []
    keeps: list[pl.Series] = []
    kept = 0
    for source, keep in pieces:
        runs.append(source)
        if keep is not None:
            keeps.append(keep)
        kept += source.len() if keep is None else int(keep.sum())
        if kept <= ROW_GROUP_ROWS:
            continue
        source = pl.concat(runs)
        keep = pl.concat(keeps) if keeps else None
        while kept > ROW_GROUP_ROWS:
            if keep is None:
                end = ROW_GROUP_ROWS
            else:
                end = int(keep.cast(pl.UInt32).cum_sum().search_sorted(ROW_GROUP_ROWS, side="left")) + 1
            yield source.slice(0, end), None if keep is None else keep.slice(0, end)
            source = source.slice(end)
            keep = None if keep is None else keep.slice(end)
            kept -= ROW_GROUP_ROWS
        runs, keeps = [source], ([] if keep is None else [keep])
    if runs and sum(source.len() for source in runs):
        yield pl.concat(runs), pl.concat(keeps) if keeps else None


def _places(runs: pl.Series, base: list[int]) -> pl.Series:
    """Where each row of a row group is in its runs' pieces put one after the other: the row's run
    starts at ``base[run]``, and the row is its run's n-th in the group (a run's rows stay in order)."""
    starts = pl.Series(base, dtype=pl.UInt32).gather(runs)
    nth = (
        pl.DataFrame({"_run": runs}).select(pl.int_range(pl.len(), dtype=pl.UInt32).over("_run")).to_series()
    )
    return starts + nth


class SortedParquetSink:
    """One output Parquet file put together from runs, one run per plan partition.

    With ``key`` (a column, or columns), every run is sorted by ``key`` (sorted here if it is not)
    — with ``unique``, a row whose key an earlier row has is a copy and is dropped (the rows of one
    run must have distinct keys) — and the file holds the
    runs merged in ``key`` order (ties: earlier runs first); without, the runs one after the other.
    The file is written in row groups of exactly :data:`ROW_GROUP_ROWS` rows (the last fewer) whatever
    the runs' sizes, so the same rows give the same bytes however they were partitioned.

    While the runs come in order (always without ``key``), their rows go straight into the file,
    a row group at a time (memory: one run and one row group). The first run out of order turns what
    was written so far into the first sorted run on disk; from then on each run is written to a
    temporary file beside the output, and :meth:`close` merges them, holding the key column and one
    row group.
    """

    def __init__(self, path: Path, key: str | list[str] | None = None, unique: bool = False):
        self.path = path
        self.key = key
        self.unique = unique  # rows with the key of a row before them are dropped (they are equal)
        self.schema: pl.Schema | None = None
        self.dir = path.parent / f".runs-{path.name}"
        self.runs: list[Path] = []
        self.heights: list[int] = []
        self.ordered = True  # every row so far came in key order: written straight into the file
        self._last: object = None
        self._writer = None
        self._arrow_schema = None
        self._buffer: list[pl.DataFrame] = []
        self._buffered = 0
        self._direct = 0  # rows in the file's row groups written so far

    @property
    def _keys(self) -> list[str]:
        return [] if self.key is None else [self.key] if isinstance(self.key, str) else list(self.key)

    @property
    def rows(self) -> int:
        return sum(self.heights) + self._direct + self._buffered

    def add(self, frame: pl.DataFrame) -> None:
        if self.schema is None:
            self.schema = frame.schema
            self._arrow_schema = pl.DataFrame(schema=frame.schema).to_arrow().schema
        if frame.height == 0:
            return
        if self.key is not None:
            keys = self._keys
            if len(keys) > 1 or not frame.get_column(keys[0]).is_sorted():
                frame = frame.sort(keys, maintain_order=True)
            first, last = frame.select(keys).row(0), frame.select(keys).row(-1)
            if self.ordered and self._last is not None and not first > self._last:
                self._to_runs()
            self._last = last
        if not self.ordered:
            self._add_run(frame)
            return
        self._buffer.append(frame)
        self._buffered += frame.height
        while self._buffered >= ROW_GROUP_ROWS:
            rows = pl.concat(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
            self._write_group(rows.slice(0, ROW_GROUP_ROWS))
            rest = rows.slice(ROW_GROUP_ROWS)
            self._buffer, self._buffered = ([rest] if rest.height else []), rest.height

    def _write_group(self, rows: pl.DataFrame) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(
                self.path, self._arrow_schema, compression="zstd", compression_level=3, write_statistics=True
            )
        table = rows.rechunk().to_arrow().cast(self._arrow_schema)
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self._direct += rows.height

    def _flush(self) -> None:
        if self._buffered:
            self._write_group(pl.concat(self._buffer))
            self._buffer, self._buffered = [], 0

    def _to_runs(self) -> None:
        """What was written straight into the file (and the buffer) becomes the first sorted run."""
        self._flush()
        self.ordered = False
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        self.dir.mkdir(parents=True, exist_ok=True)
        first = self.dir / f"{len(self.runs):06d}.parquet"
        os.replace(self.path, first)
        self.runs.append(first)
        self.heights.append(self._direct)
        self._direct = 0

    def _add_run(self, frame: pl.DataFrame) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        run = self.dir / f"{len(self.runs):06d}.parquet"
        frame.write_parquet(run, compression="lz4", statistics=False, row_group_size=RUN_ROW_GROUP_ROWS)
        self.runs.append(run)
        self.heights.append(frame.height)

    def _take(self, run: int, offset: int, n: int) -> pl.DataFrame:
        return pl.scan_parquet(self.runs[run]).slice(offset, n).collect()

    def _merged(self) -> Iterator[pl.DataFrame]:
        """The runs' rows in key order, :data:`ROW_GROUP_ROWS` at a time: which run each row of the
        file comes from is found on the key column alone (:func:`_merge_order`, a window of each
        run's keys at a time); each row group then takes the next rows of every run it draws on (a
        run's rows stay in order) and puts them in place by position, without sorting them again
        (:func:`_places`)."""

        def keys_of(run: int, offset: int, n: int) -> pl.DataFrame:
            return pl.scan_parquet(self.runs[run]).select(self._keys).slice(offset, n).collect()

        offsets = [0] * len(self.runs)
        for runs, keep in _row_groups(_merge_order(keys_of, self.heights, self._keys, self.unique)):
            pieces, base = [], [0] * len(self.runs)
            taken = 0
            for i, k in runs.value_counts().sort("_run").rows():
                pieces.append(self._take(i, offsets[i], k))
                offsets[i] += k
                base[i], taken = taken, taken + k
            rows = pl.concat(pieces).gather(_places(runs, base))
            yield rows if keep is None else rows.filter(keep)

    def close(self) -> int:
        """Finish the file, remove the runs; the number of rows."""
        if self._arrow_schema is None:
            self._arrow_schema = pl.DataFrame(schema=self.schema or {}).to_arrow().schema
        if not self.ordered:
            for rows in self._merged():
                self._write_group(rows)
        else:
            self._flush()
        if self._writer is None:  # no rows: an empty file with the columns
            self._write_group(pl.DataFrame(schema=self.schema or {}))
        self._writer.close()
        self._writer = None
        shutil.rmtree(self.dir, ignore_errors=True)
        return self._direct

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        shutil.rmtree(self.dir, ignore_errors=True)


CLOSING_THREADS = 2  # sinks closed at once: a file's Parquet encoding (pyarrow) runs on one core


def close_all(sinks: Iterable[SortedParquetSink]) -> None:
    """Every sink closed, :data:`CLOSING_THREADS` at a time, the largest first: each file is
    encoded on one core by pyarrow (which lets go of the GIL), so two files put together at once
    keep both cores busy (a merge holds a window of its keys, :data:`MERGE_WINDOW_ROWS`, and one row
    group, so two fit whatever the run's size). Each file is the same bytes as when closed alone. A
    failure is raised once the closes under way are over; the sinks not yet begun are not closed."""
    order = sorted(sinks, key=lambda sink: -sink.rows)
    with ThreadPoolExecutor(CLOSING_THREADS, thread_name_prefix="close") as pool:
        futures = [pool.submit(sink.close) for sink in order]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


STATEMENTS = "statements"
"""The folder of a run's recipient statements (``prorata statements``), kept across reruns."""


def keep_statements(out_dir: Path, staging: Path) -> None:
    """A rerun into OUT_DIR keeps the statements already written there (they may have been
    mailed): ``statements/`` is linked into the new folder before the swap (hard links: no copy of
    the bytes; the old folder stays whole until the swap). Its manifest names the run they were
    drawn from, so the run summary can say when they are older than the forms."""
    old = Path(out_dir) / STATEMENTS
    if not old.is_dir() or (Path(staging) / STATEMENTS).exists():
        return

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(old, Path(staging) / STATEMENTS, copy_function=link)


def swap_folder(target: Path, write) -> Path:
    """Write a whole folder through ``write(tmp)`` beside ``target`` and swap it into place: a
    reader finds the earlier folder or the new one, never a mix or half of one."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        write(tmp)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.rmdir(old)
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
