"""The IRS file written payer group by payer group (transforms.irs.grouped, flows.irs.files.write_run_irs_file)
gives the bytes of the whole-frame writers, for FIRE and IRIS, originals and corrections, whatever
the size of the groups, and never collects more than one group's returns."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import polars as pl
import pytest

from flows.cli.main import summary_text
from flows.irs.files import GroupLoader, filing_frame, write_irs_file, write_run_irs_file
from flows.run import pipeline
from flows.sample import generate_extract
from flows.settings import TransmitterSettings
from tests.irs.test_iris_xml import corrections, originals
from tests.irs.test_irs_pub1220 import TAX_YEAR, TRANSMITTER, sample_filing
from transforms.engine.edit_checks import filable
from transforms.irs import FilingInputError, check_pub1220, iter_iris_xml, iter_pub1220, read_pub1220
from transforms.irs.fire.pub1220 import iter_pub1220_groups
from transforms.irs.grouped import GroupedFiling, outline, payer_groups
from transforms.irs.iris.iris_xml import IrisOptions, iris_transmissions

pytestmark = pytest.mark.slow  # alternative execution paths (payer groups, chunks) give the same bytes


def iter_iris_xml_groups(settings: GroupedFiling, chunk_rows: int) -> list[bytes]:
    """The one IRIS transmission of a grouped filing (no size limit), as pieces."""
    (transmission,) = iris_transmissions(settings, IrisOptions(max_bytes=None), chunk_rows)
    return [transmission.data()]


class Loader:
    """The filing of a few payers from an in-memory frame, recording how many returns each call collects."""

    def __init__(self, filing: pl.DataFrame):
        self.filing = filing
        self.sizes: list[int] = []

    def __call__(self, tins: list[str]) -> pl.DataFrame:
        part = self.filing.filter(
            pl.col("payer_tin").is_in(pl.Series(tins, dtype=pl.String).implode(), nulls_equal=True)
        )
        self.sizes.append(part.height)
        return part


def many_payers() -> pl.DataFrame:
    """The sample filing repeated for 12 payers (4 copies of its 3 payers, new TINs and accounts)."""
    base = sample_filing()
    copies = [
        base.with_columns(
            pl.concat_str(pl.lit(str(i)), pl.col("payer_tin").str.slice(1)).alias("payer_tin"),
            pl.concat_str(pl.col("form_id"), pl.lit(f"-{i}")).alias("form_id"),
        )
        for i in range(1, 5)
    ]
    return pl.concat(copies)


def grouped(
    writer, filing: pl.DataFrame, group_rows: int, tax_year: int = TAX_YEAR, test_file=True, prior_year=False
) -> tuple[bytes, Loader]:
    """The file ``writer`` (``iter_pub1220_groups`` or ``iter_iris_xml_groups``) writes from
    ``filing`` in groups of ``group_rows`` returns (chunks of 2 returns), and the loader it used."""
    load = Loader(filing)
    returns = outline(filing.lazy(), tax_year, TRANSMITTER.cfsf_approved_payers)
    settings = GroupedFiling(returns, load, TRANSMITTER, tax_year, test_file, prior_year, group_rows)
    return b"".join(writer(settings, chunk_rows=2)), load


@pytest.mark.slow
@pytest.mark.parametrize("group_rows", [1, 4, 7, 10**9])
@pytest.mark.parametrize(("test_file", "prior_year"), [(True, False), (False, True)])
def test_a_fire_file_written_group_by_group_has_the_bytes_of_the_whole_frame_writer(
    group_rows, test_file, prior_year
):
    filing = many_payers()
    whole = b"".join(
        iter_pub1220(filing, TRANSMITTER, tax_year=TAX_YEAR, test_file=test_file, prior_year=prior_year)
    )
    data, load = grouped(iter_pub1220_groups, filing, group_rows, test_file=test_file, prior_year=prior_year)
    assert data == whole
    assert check_pub1220(data) == []
    parsed = read_pub1220(data)
    assert {"G", "C"} <= set(parsed.payees["corrected_return_indicator"].to_list())
    assert parsed.state_totals.height > 0  # CF/SF states: K records after the C records of their group
    assert sum(load.sizes) == filing.height
    if group_rows < 10**9:
        assert len(load.sizes) > 3


def test_no_group_collects_more_returns_than_the_budget_unless_one_payer_has_more():
    filing = many_payers()
    per_payer = filing.group_by("payer_tin").len()["len"]
    budget = int(per_payer.max()) + 1
    _, load = grouped(iter_pub1220_groups, filing, budget)
    assert max(load.sizes) <= budget < filing.height
    assert len(load.sizes) >= filing.height // budget

    _, load = grouped(iter_pub1220_groups, filing, 2)
    # Every payer has more than 2 returns: one group per payer, its own returns only.
    assert sorted(load.sizes) == sorted(per_payer.to_list())


def test_payer_groups_take_consecutive_payers_up_to_the_budget_and_an_oversized_payer_alone():
    payers = pl.DataFrame(
        {
            "tin": ["1", "2", "3", "4", "5"],
            "raw_tins": [["1"], ["2"], ["3"], ["4"], ["5"]],
            "returns": [3, 4, 10, 2, 2],
            "a_records": [1, 1, 1, 1, 1],
            "records": [5, 6, 12, 4, 4],
        }
    )
    groups = payer_groups(payers, 7)
    assert groups["raw_tins"].to_list() == [["1", "2"], ["3"], ["4", "5"]]
    assert groups["returns"].to_list() == [7, 10, 4]
    assert groups["first_sequence"].to_list() == [2, 13, 25]
    assert groups["first_submission"].to_list() == [1, 3, 4]


@pytest.mark.slow
@pytest.mark.parametrize("group_rows", [1, 5, 10**9])
@pytest.mark.parametrize(("frame", "tax_year"), [(originals, 2026), (corrections, TAX_YEAR)])
def test_an_iris_document_written_group_by_group_has_the_bytes_of_the_whole_frame_writer(
    group_rows, frame, tax_year
):
    filing = frame().with_columns(pl.lit(tax_year).alias("tax_year"))
    copy = filing.with_columns(
        pl.concat_str(pl.lit("9"), pl.col("payer_tin").str.slice(1)).alias("payer_tin"),
        pl.concat_str(pl.col("form_id"), pl.lit("-9")).alias("form_id"),
    )
    if "prev_unique_record_id" in copy.columns:  # the copy corrects other records (FTMFST008)
        copy = copy.with_columns(pl.col("prev_unique_record_id").str.replace(r"\|[0-9]+\|", "|9|"))
    filing = pl.concat([filing, copy])
    whole = b"".join(iter_iris_xml(filing, TRANSMITTER, tax_year=tax_year, test_file=True))
    data, load = grouped(iter_iris_xml_groups, filing, group_rows, tax_year)
    assert data == whole
    if group_rows == 1:
        assert len(load.sizes) == filing["payer_tin"].n_unique()  # one pass: each group loaded once


@pytest.mark.slow
@pytest.mark.parametrize("group_rows", [1, 4, 10**9])
def test_a_payer_ein_written_two_ways_gives_one_payer_group_by_group_and_the_whole_writers_bytes(group_rows):
    # Payer 123456780's returns but the first under a second plan, its EIN written "12-3456780".
    second = (pl.col("payer_tin") == "123456780") & (pl.col("form_id") != "F1-1")
    two = many_payers().with_columns(
        pl.when(second).then(pl.lit("12-3456780")).otherwise(pl.col("payer_tin")).alias("payer_tin")
    )
    assert two.filter(pl.col("payer_tin") == "12-3456780").height == 3
    returns = outline(two.lazy(), TAX_YEAR, TRANSMITTER.cfsf_approved_payers)
    payer = returns.payers.filter(pl.col("tin") == "123456780")
    assert payer["raw_tins"].to_list() == [["12-3456780", "123456780"]]
    digits = two.with_columns(pl.col("payer_tin").str.replace_all("-", ""))
    fire, load = grouped(iter_pub1220_groups, two, group_rows)
    assert fire == b"".join(iter_pub1220(two, TRANSMITTER, tax_year=TAX_YEAR, test_file=True))
    assert fire == b"".join(iter_pub1220(digits, TRANSMITTER, tax_year=TAX_YEAR, test_file=True))
    assert sum(load.sizes) == two.height
    # One A record per (payer TIN, correction kind), whatever the spelling.
    assert read_pub1220(fire).payers.height == digits.select("payer_tin", "corrected").unique().height
    originals = two.filter(pl.col("corrected") == "")
    iris, _ = grouped(iter_iris_xml_groups, originals, group_rows)
    assert iris == b"".join(iter_iris_xml(originals, TRANSMITTER, tax_year=TAX_YEAR, test_file=True))
    assert iris == b"".join(
        iter_iris_xml(
            digits.filter(pl.col("corrected") == ""), TRANSMITTER, tax_year=TAX_YEAR, test_file=True
        )
    )


def test_problems_found_in_several_groups_are_reported_as_the_whole_frame_writer_reports_them():
    filing = many_payers()
    bad = filing.with_columns(
        pl.when(pl.col("form_id").str.starts_with("F1"))
        .then(-1)
        .otherwise(pl.col("box4_cents"))
        .alias("box4_cents"),
        pl.when(pl.col("form_id").str.ends_with("-3"))
        .then(pl.lit("Z9"))
        .otherwise(pl.col("state_code"))
        .alias("state_code"),
    )
    with pytest.raises(FilingInputError) as whole:
        b"".join(iter_pub1220(bad, TRANSMITTER, tax_year=TAX_YEAR, test_file=True))
    with pytest.raises(FilingInputError) as failed:
        grouped(iter_pub1220_groups, bad, 1)
    assert str(failed.value) == str(whole.value)
    assert "(+" in str(whole.value)  # more returns than the message names, across several groups
    originals = bad.filter(pl.col("corrected") == "")
    with pytest.raises(FilingInputError) as whole_iris:
        b"".join(iter_iris_xml(originals, TRANSMITTER, tax_year=TAX_YEAR, test_file=True))
    with pytest.raises(FilingInputError) as failed:
        grouped(iter_iris_xml_groups, originals, 1)
    assert str(failed.value) == str(whole_iris.value)
    assert "state_code not a state IRIS takes" in str(failed.value)  # IRIS's own checks too


def test_a_return_without_a_payer_tin_is_refused_as_the_whole_frame_writer_refuses_it():
    filing = many_payers()
    bad = filing.with_columns(
        pl.when(pl.col("form_id") == "F2-3").then(None).otherwise(pl.col("payer_tin")).alias("payer_tin")
    )
    with pytest.raises(FilingInputError) as whole:
        b"".join(iter_pub1220(bad, TRANSMITTER, tax_year=TAX_YEAR, test_file=True))
    with pytest.raises(FilingInputError) as failed:
        grouped(iter_pub1220_groups, bad, 3)
    assert str(failed.value) == str(whole.value) and "F2-3" in str(whole.value)


# --- a run's file from the staged parquet files ------------------------------------------------


@pytest.fixture(scope="module", params=[2025, 2026])
def staged(request, tmp_path_factory) -> tuple[Path, int]:
    """A run's staged forms, payers and recipients; two plans made to share their payer TIN."""
    tax_year = request.param
    folder = tmp_path_factory.mktemp(f"grouped{tax_year}")
    generate_extract(folder / "extract", 4_000, seed=21, tax_year=tax_year)
    pipeline.run_pipeline(folder / "extract", folder / "out")
    out = folder / "out"
    payers = pl.read_parquet(out / "payers.parquet")
    first, second = payers.row(0, named=True), payers.row(1, named=True)
    shared = {c: first[c] for c in payers.columns if c.startswith("payer_")}
    payers = payers.with_columns(
        pl.when(pl.col("plan_id") == second["plan_id"]).then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
        for c, v in shared.items()
    )
    forms = pl.read_parquet(out / "forms.parquet")
    forms = filable(forms, pl.read_parquet(out / "edit_checks.parquet")).with_columns(
        pl.when(pl.col("plan_id") == second["plan_id"])
        .then(pl.lit(first["payer_tin"]))
        .otherwise(pl.col("payer_tin"))
        .alias("payer_tin")
    )
    assert forms["plan_id"].n_unique() > forms["payer_tin"].n_unique() >= 4
    forms.write_parquet(folder / "forms.parquet")
    payers.write_parquet(folder / "payers.parquet")
    pl.read_parquet(out / "recipients.parquet").write_parquet(folder / "recipients.parquet")
    return folder, tax_year


def scans(folder: Path) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    return tuple(pl.scan_parquet(folder / f"{name}.parquet") for name in ("forms", "payers", "recipients"))


PRODUCTION = dataclasses.replace(TransmitterSettings.placeholder(), test_file=False, configured=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings", [TransmitterSettings.placeholder(), PRODUCTION], ids=["test", "production"]
)
@pytest.mark.parametrize("group_rows", [1, 300, 10**9])
def test_a_runs_file_from_lazy_staged_files_equals_the_file_of_the_whole_filing_frame(
    staged, tmp_path, settings, group_rows
):
    folder, tax_year = staged
    forms, payers, recipients = scans(folder)
    every_payer = payers.select("payer_tin").collect()["payer_tin"]
    approved = dataclasses.replace(settings.transmitter, cfsf_approved_payers=frozenset(every_payer))
    settings = dataclasses.replace(settings, transmitter=approved)  # K records
    whole_frame = filing_frame(forms, {"plans": payers, "payees": recipients}).collect()
    whole = write_irs_file(tmp_path / "whole", whole_frame, settings, tax_year)
    grouped = write_run_irs_file(
        tmp_path / "grouped", forms, payers, recipients, settings, tax_year, group_rows
    )
    assert grouped == whole
    data = (tmp_path / "grouped" / grouped["file"]).read_bytes()
    assert data == (tmp_path / "whole" / whole["file"]).read_bytes()
    assert grouped["channel"] == ("FIRE" if tax_year <= 2025 else "IRIS")
    if tax_year <= 2025:
        parsed = read_pub1220(data)
        assert parsed.payees.height == whole_frame.height and parsed.state_totals.height > 0
        assert check_pub1220(data) == []


def test_the_loader_collects_one_groups_returns_and_only_their_payees(staged):
    folder, tax_year = staged
    forms, payers, recipients = scans(folder)
    load = GroupLoader(forms, payers, recipients)
    tins = forms.select(pl.col("payer_tin").unique().sort()).collect()["payer_tin"].to_list()[:2]
    part = load(tins)
    assert set(part["payer_tin"]) == set(tins)
    assert load.largest == part.height < forms.select(pl.len()).collect().item()
    assert part["last_name"].null_count() == 0  # every return found its payee


def test_the_discard_sink_checks_counts_and_hashes_the_file_without_keeping_it(staged, tmp_path, monkeypatch):
    folder, tax_year = staged
    settings = TransmitterSettings.placeholder()
    kept = write_run_irs_file(tmp_path / "kept", *scans(folder), settings, tax_year, 500)
    data = (tmp_path / "kept" / kept["file"]).read_bytes()
    monkeypatch.setenv("PRORATA_IRS_FILE_SINK", "discard")
    discarded = write_run_irs_file(tmp_path / "discarded", *scans(folder), settings, tax_year, 500)
    assert discarded["file"] is None
    assert discarded["discarded_bytes"] == len(data)
    assert discarded["sha256"] == hashlib.sha256(data).hexdigest()
    kept_files = ("files", "index", "transmissions")  # IRIS: every transmission's file and the index
    assert {k: v for k, v in discarded.items() if k not in ("discarded_bytes", "sha256", *kept_files)} == {
        k: v for k, v in kept.items() if k not in kept_files
    } | {"file": None}
    if "transmissions" in kept:
        assert [t | {"file": None} for t in kept["transmissions"]] == discarded["transmissions"]
    assert not (tmp_path / "discarded").exists() or not any((tmp_path / "discarded").rglob("*"))
    monkeypatch.setenv("PRORATA_IRS_FILE_SINK", "nowhere")
    with pytest.raises(ValueError, match="PRORATA_IRS_FILE_SINK"):
        write_run_irs_file(tmp_path / "x", *scans(folder), settings, tax_year, 500)


def test_a_run_with_the_discard_sink_says_in_its_manifest_that_the_file_was_not_kept(
    staged, tmp_path, monkeypatch
):
    folder, tax_year = staged
    monkeypatch.setenv("PRORATA_IRS_FILE_SINK", "discard")
    summary = pipeline.run_pipeline(folder / "extract", tmp_path / "out")
    irs = summary.manifest["irs_filing"]
    assert irs["file"] is None and irs["discarded_bytes"] > 0 and len(irs["sha256"]) == 64
    assert not (tmp_path / "out" / "irs").exists()
    text = summary_text(summary.manifest, tmp_path / "out")
    assert "NOT KEPT" in text and irs["sha256"] in text


def test_a_runs_file_in_many_groups_reads_each_group_from_its_own_spilled_file_then_removes_them(
    staged, tmp_path, monkeypatch
):
    from flows.irs import files as filing_module

    folder, tax_year = staged
    loaders: list[GroupLoader] = []

    class Watched(GroupLoader):
        def __init__(self, *args):
            super().__init__(*args)
            loaders.append(self)

    monkeypatch.setattr(filing_module, "GroupLoader", Watched)
    forms = pl.read_parquet(folder / "forms.parquet")
    largest_payer = forms.group_by("payer_tin").len()["len"].max()
    budget = largest_payer + 1
    info = write_run_irs_file(tmp_path, *scans(folder), TransmitterSettings.placeholder(), tax_year, budget)
    (load,) = loaders
    assert load.folder == tmp_path / ".irs-groups" and len(set(load.group_of.values())) > 2
    assert load.largest <= budget < forms.height  # never more than one group's returns at once
    assert not load.folder.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["irs"] and info["returns"] == forms.height
    assert sorted(p.name for p in (tmp_path / "irs").iterdir()) == sorted(
        Path(f).name for f in info.get("files", [info["file"]]) + ([info["index"]] if "index" in info else [])
    )
