"""The IRS file of a filing too large for memory, written payer group by payer group: what FIRE
and IRIS share (the writers themselves: ``transforms.irs.fire.pub1220.iter_pub1220_groups`` and
``transforms.irs.iris.iris_xml.iris_transmissions``).

:func:`iter_pub1220` and :func:`iter_iris_xml` take the whole filing frame (every return joined with
its payer and payee) in memory. The group writers give the same bytes from a lazy frame of the
returns' form columns and a ``load`` function that collects the filing frame of a few payers:

1. :func:`outline`, a cheap pass over three narrow columns (payer TIN, ``corrected``, box 15 state —
   aggregated by the streaming engine, never collected per return): per payer TIN its returns, A
   records and K records (CF/SF states), hence every record sequence number (FIRE), and the T, F
   and IRIS manifest counts (IRIS: the largest a transmission can have);
2. :func:`payer_groups`: consecutive payers (file order) in groups of at most ``group_rows``
   returns; a payer with more returns than that is a group of its own (memory then follows that
   payer);
3. per group: ``load`` collects its filing frame, :func:`filing_problems` checks it, and the
   writers' own machinery renders its A, B, C and K records (FIRE), numbered from where the
   previous group stopped, or its submissions (IRIS), packed into transmissions of at most a size.

Every check that involves more than one return stays within one payer TIN (account numbers unique
per payer, payer details the same), so the groups' problems add up to the whole filing's
(:func:`merge_problems`), and the error raised is the one the whole-frame writers raise — with one
exception: an A, C or K record that cannot be rendered is counted within its group only. A failed
file stops being yielded at its first problem; the checks go on to the last group (IRIS checks its
returns as it renders them, each group loaded once: transmissions yielded before the first problem
are to be discarded, as ``flows.irs.files`` does).

Memory: the returns of one group (and their records, chunk by chunk), never the whole filing; IRIS
also holds the transmission being filled (at most its size limit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from transforms.irs.shared import (
    FilingInputError,
    Problem,
    Transmitter,
    cfsf_code,
    check_columns,
    digits_only,
    filing_problems,
    merge_problems,
    problems_error,
)

#: Returns per payer group: the writers hold one group's filing frame at a time.
GROUP_ROWS = 2_000_000

#: ``load(payer_tins)``: the filing frame (``REQUIRED_COLUMNS``, as ``flows.irs.files.filing_frame``
#: builds it) of the returns whose ``payer_tin`` column is one of ``payer_tins`` (as written).
Loader = Callable[[list[str]], pl.DataFrame]


@dataclass(frozen=True)
class Outline:
    """What the cheap pass knows of a filing: per payer (file order) its TINs as written, returns,
    A records and records in a FIRE file (A + B + C + K); the ``corrected`` values."""

    payers: pl.DataFrame  # tin (digits), raw_tins (list), returns, a_records, records
    kinds: list[str]

    @property
    def returns(self) -> int:
        return int(self.payers["returns"].sum())


def outline(returns: pl.LazyFrame, tax_year: int, cfsf_payers: frozenset[str] = frozenset()) -> Outline:
    """The cheap pass over ``returns`` (``payer_tin``, ``state``, optionally ``corrected``: "" when
    absent), aggregated by the streaming engine; ``cfsf_payers``: the payer EINs approved for CF/SF
    (their K records are counted)."""
    names = returns.collect_schema().names()
    corrected = pl.col("corrected").cast(pl.String).fill_null("") if "corrected" in names else pl.lit("")
    by_state = (
        returns.select(
            pl.col("payer_tin").cast(pl.String).alias("raw_tin"),
            corrected.alias("corrected"),
            cfsf_code(tax_year, cfsf_payers).alias("cfsf"),
        )
        .group_by("raw_tin", "corrected", "cfsf")
        .agg(pl.len().alias("returns"))
        .collect(engine="streaming")
        .with_columns(digits_only(pl.col("raw_tin")).alias("tin"))
    )
    # One A record per (payer TIN, correction kind), one K record per CF/SF state in it (§2, §12).
    by_kind = by_state.group_by("tin", "corrected").agg(
        pl.col("returns").sum(), pl.col("cfsf").drop_nulls().n_unique().alias("k_records")
    )
    payers = (
        by_kind.group_by("tin")
        .agg(
            pl.col("returns").sum(),
            pl.len().alias("a_records"),
            (2 + pl.col("returns") + pl.col("k_records")).cast(pl.Int64).sum().alias("records"),
        )
        .join(
            by_state.group_by("tin").agg(pl.col("raw_tin").unique().sort().alias("raw_tins")),
            on="tin",
        )
        .sort("tin")
        .select(
            "tin", "raw_tins", pl.col("returns").cast(pl.Int64), pl.col("a_records").cast(pl.Int64), "records"
        )
    )
    return Outline(payers, sorted(by_state["corrected"].unique().to_list()))


def payer_groups(payers: pl.DataFrame, group_rows: int) -> pl.DataFrame:
    """Consecutive payers in groups of at most ``group_rows`` returns (a payer with more is a group
    of its own): per group its raw TINs, returns, first record sequence number (after the T record)
    and first submission id. A loop over payers, not returns."""
    if group_rows < 1:
        raise ValueError("group_rows must be at least 1")
    numbers: list[int] = []
    group, size = -1, 0
    for returns in payers["returns"].to_list():
        if group < 0 or size + returns > group_rows:
            group, size = group + 1, 0
        size += returns
        numbers.append(group)
    return (
        payers.with_columns(
            pl.Series("group", numbers, dtype=pl.Int64),
            (2 + pl.col("records").cum_sum() - pl.col("records")).alias("first_sequence"),
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("first_submission"),
        )
        .group_by("group", maintain_order=True)
        .agg(
            pl.col("raw_tins").list.explode(keep_nulls=False, empty_as_null=False),
            pl.col("returns").sum(),
            pl.col("first_sequence").first(),
            pl.col("first_submission").first(),
        )
    )


@dataclass
class Findings:
    """What the groups gone through so far found wrong (see the module docstring for the order);
    each writer keeps what else it finds (records that cannot be rendered, missing references)."""

    problems: list[Problem] = field(default_factory=list)  # filing_problems, merged
    early: FilingInputError | None = None  # raised after the problems, before the rest

    def check(
        self,
        filing: pl.DataFrame,
        tax_year: int,
        first: bool,
        more: Callable[[pl.DataFrame], list[Problem]] | None = None,
    ) -> bool:
        """Whether ``filing`` (a group) and every group before it are free of problems; ``more``:
        a writer's own checks (ranked after :func:`filing_problems`'s)."""
        if first:
            check_columns(filing.columns)
        found = filing_problems(filing, tax_year)
        if more is not None:
            found = sorted(found + more(filing), key=lambda p: p.rank)
        self.problems = merge_problems(self.problems, found)
        return not self.problems and self.early is None

    def add(self, problems: list[Problem]) -> None:
        """Problems found in the returns after those checked so far."""
        if problems:
            self.problems = merge_problems(self.problems, problems)

    @property
    def clean(self) -> bool:
        return not self.problems and self.early is None

    def raise_first(self) -> None:
        if self.problems:
            raise problems_error(self.problems)
        if self.early is not None:
            raise self.early


def groups_of(returns: Outline, group_rows: int, chunk_rows: int) -> pl.DataFrame:
    """:func:`payer_groups` of a filing that has returns."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if returns.returns == 0:
        raise FilingInputError("filing frame has no returns")
    return payer_groups(returns.payers, group_rows)


@dataclass(frozen=True)
class GroupedFiling:
    """A filing to write payer group by payer group: its :func:`outline`, the ``load`` function of
    its groups' filing frames, the transmitter, the file's settings (as the whole-frame writers
    take them) and the returns per group."""

    returns: Outline
    load: Loader
    transmitter: Transmitter
    tax_year: int
    test_file: bool
    prior_year: bool = False
    group_rows: int = GROUP_ROWS

    def parts(self) -> tuple[Outline, Loader, Transmitter, int, bool, bool, int]:
        return (
            self.returns,
            self.load,
            self.transmitter,
            self.tax_year,
            self.test_file,
            self.prior_year,
            self.group_rows,
        )


__all__ = [
    "GROUP_ROWS",
    "Findings",
    "GroupedFiling",
    "Loader",
    "Outline",
    "groups_of",
    "outline",
    "payer_groups",
]
