"""The year-to-date store: ingest, the ledger commit point, supersede, the live year, nightly, serve."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from contracts.loading import ExtractError
from flows.cli.main import main
from flows.io import store as st
from flows.prefect.nightly import run_nightly, serve_arguments, transient_io
from tests.builders import payee_row
from tests.ops_builders import _person, write_extract, year_extracts

pytestmark = pytest.mark.store


def delta_versions(store: st.Store, year: int) -> dict[str, int]:
    from deltalake import DeltaTable

    return {
        name: DeltaTable(str(store.table(year, name))).version()
        for name in (*st.DATA_TABLES, "extracts")
        if st.is_delta(store.table(year, name))
    }


def test_ingesting_the_same_extract_twice_changes_nothing(tmp_path):
    src = year_extracts(tmp_path / "src")
    store = st.Store(tmp_path / "store")
    first = st.ingest_extract(store, src["night1"])
    assert first.status == "ingested" and first.rows["distributions"] == 5
    before = delta_versions(store, 2025)
    again = st.ingest_extract(store, src["night1"])
    assert again.status == "already in store"
    assert delta_versions(store, 2025) == before
    assert st.ledger(store, 2025).height == 1


def test_an_extract_id_already_ingested_with_other_files_is_refused(tmp_path):
    src = year_extracts(tmp_path / "src")
    store = st.Store(tmp_path / "store")
    st.ingest_extract(store, src["night1"])
    other = write_extract(
        tmp_path / "other",
        [_person(1, 2025, amount=5)],
        extract_id="n1-2025",
        created_at="2026-02-01",
        tax_year=2025,
    )
    with pytest.raises(st.StoreError, match="already in the store with other file contents"):
        st.ingest_extract(store, other)


def test_nightly_refuses_an_inbox_extract_that_reuses_an_ingested_id_with_other_files(tmp_path):
    src = year_extracts(tmp_path / "src")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copytree(src["night1"], inbox / "night1")
    assert run_nightly(inbox, tmp_path / "store").ok
    write_extract(
        inbox / "night1",
        [_person(1, 2025, amount=5)],
        extract_id="n1-2025",
        created_at="2026-01-05",
        tax_year=2025,
    )
    report = run_nightly(inbox, tmp_path / "store")
    assert not report.ok and "other file contents" in report.faults[0] and report.rebuilt == {}


def test_a_superseding_extract_replaces_the_earlier_rows_of_its_plans_only(tmp_path):
    store = st.Store(tmp_path / "store")
    # the first extract has plans P1 and P2; the correction covers P1 only
    p1 = [_person(1, 2025, amount=100_000), _person(2, 2025, amount=200_000)]
    p2 = _person(3, 2025, amount=300_000)
    for t in ("participants", "distributions"):
        for row in p2[t]:
            row["plan_id"] = "P2"
    first = write_extract(tmp_path / "a", [*p1, p2], extract_id="A", created_at="2026-01-05", tax_year=2025)
    plans = pl.read_parquet(first / "plans.parquet")
    pl.concat([plans, plans.with_columns(pl.lit("P2").alias("plan_id"))]).write_parquet(
        first / "plans.parquet"
    )
    fix = write_extract(
        tmp_path / "b",
        [_person(1, 2025, amount=111_111)],
        extract_id="B",
        created_at="2026-01-09",
        tax_year=2025,
        supersedes="A",
    )
    st.ingest_extract(store, first)
    st.ingest_extract(store, fix)
    live = st.live_tables(store, 2025)
    d = live["distributions"].sort("distribution_id")
    # D2 (P1, only in A) is gone with A's P1 rows; D3 (P2) stays; D1 comes from B
    assert d["distribution_id"].to_list() == ["D1", "D3"]
    assert d["amount_cents"].to_list() == [111_111, 300_000]
    assert d[st.EXTRACT_COL].to_list() == ["B", "A"]
    assert sorted(live["participants"]["participant_id"].to_list()) == ["PT1", "PT3"]
    assert sorted(live["contracts"]["event_id"].to_list()) == ["E1", "E3"]
    assert sorted(live["plans"]["plan_id"].to_list()) == ["P1", "P2"]


def test_a_later_extract_wins_on_the_same_key_and_an_event_comes_whole_from_the_latest(tmp_path):
    store = st.Store(tmp_path / "store")
    a = write_extract(
        tmp_path / "a", [_person(1, 2025, amount=100_000)], extract_id="A", created_at="1", tax_year=2025
    )
    b = write_extract(
        tmp_path / "b",
        [_person(1, 2025, amount=150_000), _person(2, 2025, amount=9_900)],
        extract_id="B",
        created_at="2",
        tax_year=2025,
        extra_payees=[payee_row("PY9", tin="400000009")],
    )
    st.ingest_extract(store, a)
    st.ingest_extract(store, b)
    live = st.live_tables(store, 2025)
    assert live["distributions"]["amount_cents"].to_list() == [150_000, 9_900]
    assert live["distributions"][st.EXTRACT_COL].to_list() == ["B", "B"]
    assert live["payees"]["payee_id"].to_list() == ["PY1", "PY2", "PY9"]
    assert live["plans"].height == 1


def test_rows_of_an_extract_missing_from_the_ledger_are_ignored_and_replaced_on_retry(tmp_path):
    src = year_extracts(tmp_path / "src")
    store = st.Store(tmp_path / "store")
    st.ingest_extract(store, src["night1"])
    # a killed ingest of night2: its distributions written, the ledger row not
    rows = pl.read_parquet(src["night2"] / "distributions.parquet").with_columns(
        pl.lit("n2-2025").alias(st.EXTRACT_COL)
    )
    st.append_delta(rows, store.table(2025, "distributions"))
    assert st.live_tables(store, 2025)["distributions"].height == 5
    st.ingest_extract(store, src["night2"])
    raw = pl.read_delta(str(store.table(2025, "distributions")))
    assert raw.filter(pl.col(st.EXTRACT_COL) == "n2-2025").height == 3  # not 6
    assert st.live_tables(store, 2025)["distributions"].height == 8


def test_the_store_keeps_history_one_ledger_commit_per_extract(tmp_path):
    from deltalake import DeltaTable

    src = year_extracts(tmp_path / "src")
    store = st.Store(tmp_path / "store")
    for name in ("night1", "night2", "fix"):
        st.ingest_extract(store, src[name])
    history = DeltaTable(str(store.table(2025, "extracts"))).history()
    assert len(history) == 3
    # time travel: the ledger as it was after the first commit
    assert pl.read_delta(str(store.table(2025, "extracts")), version=0)["extract_id"].to_list() == ["n1-2025"]
    parts = sorted(
        p.name for p in store.table(2025, "distributions").iterdir() if p.is_dir() and p.name != "_delta_log"
    )
    assert parts == ["plan_id=P1"]


def test_nightly_takes_the_inbox_oldest_first_and_skips_a_faulty_extract(tmp_path, capsys):
    src = year_extracts(tmp_path / "src")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # folder names sort the other way round from created_at
    shutil.copytree(src["night1"], inbox / "z-night1")
    shutil.copytree(src["night2"], inbox / "a-night2")
    broken = shutil.copytree(src["night2"], inbox / "m-broken")
    (broken / "manifest.json").write_text(
        json.dumps(
            {"extract_id": "bad", "recordkeeper": "t", "tax_year": 2025, "created_at": "2026-01-05T03"}
        )
    )
    pl.read_parquet(broken / "payees.parquet").drop("tin").write_parquet(broken / "payees.parquet")
    store = tmp_path / "store"
    code = main(["nightly", "--inbox", str(inbox), "--store", str(store), "--no-prefect", "--quiet"])
    out = capsys.readouterr().out
    assert code == 2
    assert "2 extracts ingested, 0 already in the store, 1 refused" in out
    assert "payees.parquet: required column 'tin' is missing" in out
    led = st.ledger(st.Store(store), 2025)
    assert led["extract_id"].to_list() == ["n1-2025", "n2-2025"] and led["ingest_seq"].to_list() == [1, 2]
    assert "bad" not in pl.read_delta(str(store / "ytd" / "2025" / "payees"))[st.EXTRACT_COL].to_list()
    assert (store / "outputs" / "2025" / "forms.parquet").is_file()


def test_the_year_outputs_equal_prorata_run_on_the_same_rows(tmp_path, capsys):
    src = year_extracts(tmp_path / "src")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copytree(src["night1"], inbox / "night1")
    store = tmp_path / "store"
    report = run_nightly(inbox, store)
    assert report.ok and list(report.rebuilt) == [2025]
    assert (
        main(["run", str(src["night1"]), "--out", str(tmp_path / "direct"), "--no-prefect", "--quiet"]) == 0
    )
    for name in ("forms", "distributions", "quarantine", "edit_checks", "tieout_945", "recipients", "payers"):
        got = pl.read_parquet(store / "outputs" / "2025" / f"{name}.parquet")
        want = pl.read_parquet(tmp_path / "direct" / f"{name}.parquet")
        assert got.equals(want), name
    manifest = json.loads((store / "outputs" / "2025" / "manifest.json").read_text())
    assert manifest["extract_id"].startswith("ytd-2025-") and st.outputs_current(st.Store(store), 2025)


def test_the_nightly_rebuild_writes_every_output_but_the_irs_file_that_prorata_file_writes(tmp_path):
    """Nobody files the nightly's IRS file: the filing is prepared from the rebuilt outputs by
    ``prorata file``. The rebuild skips it (the largest stage of a run), and its manifest says so."""
    src = year_extracts(tmp_path / "src")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copytree(src["night1"], inbox / "night1")
    store = tmp_path / "store"
    assert run_nightly(inbox, store).ok
    outputs = store / "outputs" / "2025"
    assert not (outputs / "irs").exists() and (outputs / "forms.parquet").is_file()
    manifest = json.loads((outputs / "manifest.json").read_text())
    assert manifest["irs_filing"] == {"channel": "FIRE", "file": None, "written": False}
    assert "irs_file" in manifest["stage_seconds"] and manifest["forms"]["to_file"] > 0


def test_a_nightly_run_after_a_kill_between_ingest_and_rebuild_rebuilds_the_stale_year(tmp_path):
    src = year_extracts(tmp_path / "src")
    store = st.Store(tmp_path / "store")
    st.ingest_extract(store, src["night1"])  # ingested, outputs never rebuilt
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copytree(src["night1"], inbox / "night1")
    report = run_nightly(inbox, store.root)
    assert report.ingested == [] and report.skipped == ["n1-2025"] and list(report.rebuilt) == [2025]
    assert st.outputs_current(store, 2025)


def test_an_extract_of_a_plan_without_rows_and_an_unknown_supersedes_is_ingested_with_a_warning(tmp_path):
    store = st.Store(tmp_path / "store")
    folder = write_extract(
        tmp_path / "x",
        [_person(1, 2025, amount=100)],
        extract_id="X",
        created_at="1",
        tax_year=2025,
        supersedes="nope",
    )
    result = st.ingest_extract(store, folder)
    assert result.status == "ingested" and "not in the store" in result.warning


def test_a_second_writer_is_refused_while_the_store_is_locked(tmp_path):
    store = st.Store(tmp_path / "store")
    with store.lock(), pytest.raises(st.StoreError, match="another prorata process"), store.lock():
        pass


def test_serve_registers_the_nightly_flow_with_the_cron_schedule(tmp_path):
    from flows.prefect.nightly import nightly_flow

    kwargs = serve_arguments(tmp_path / "inbox", tmp_path / "store", "0 2 * * *")
    assert kwargs["cron"] == "0 2 * * *" and kwargs["name"] == "prorata-nightly"
    deployment = nightly_flow().to_deployment(**kwargs)
    assert [s.schedule.cron for s in deployment.schedules] == ["0 2 * * *"]
    assert deployment.parameters == {
        "inbox": str((tmp_path / "inbox").resolve()),
        "store": str((tmp_path / "store").resolve()),
    }
    assert deployment.flow_name == "prorata-nightly"
    with pytest.raises(ValueError):
        serve_arguments(tmp_path, tmp_path, "every night")


def test_only_transient_io_errors_are_retried():
    from prefect.states import Failed

    def retried(exc: Exception) -> bool:
        return transient_io(None, None, Failed(data=exc))

    assert retried(OSError(5, "I/O error"))
    assert retried(TimeoutError())
    assert not retried(FileNotFoundError("gone"))
    assert not retried(ExtractError("x.parquet", "file is missing"))
    assert not retried(ValueError("bug"))


def test_the_ledger_and_live_rows_hold_no_row_positions(tmp_path):
    store = st.Store(tmp_path / "store")
    st.ingest_extract(store, year_extracts(tmp_path / "src")["night1"])
    for frame in st.live_tables(store, 2025).values():
        assert "_row" not in frame.columns


@pytest.mark.prefect
def test_the_prefect_nightly_flow_refuses_a_faulty_extract_and_ingests_the_rest(tmp_path, prefect_server):
    from flows.prefect.nightly import nightly_flow

    src = year_extracts(tmp_path / "src")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copytree(src["night1"], inbox / "night1")
    broken = shutil.copytree(src["night2"], inbox / "night2")
    (broken / "distributions.parquet").write_bytes(b"not parquet")
    state = nightly_flow()(str(inbox), str(tmp_path / "store"), return_state=True)
    assert state.is_failed() and "1 extract(s) refused" in state.message  # Prefect shows the refusal
    result = state.result(raise_on_failure=False)
    assert result["ingested"] == ["n1-2025"] and list(result["rebuilt"]) == ["2025"]
    assert (
        len(result["faults"]) == 1
        and "distributions.parquet: not a readable Parquet file" in result["faults"][0]
    )


def test_a_superseded_extracts_payee_row_gives_way_to_an_earlier_live_one(tmp_path):
    store = st.Store(tmp_path / "store")
    a = write_extract(
        tmp_path / "a",
        [_person(1, 2025, amount=100_000)],
        extract_id="A",
        created_at="2026-01-01",
        tax_year=2025,
    )
    # B (plan P1) wrongly carries PY1 with another TIN; C replaces every row of B for P1, without PY1
    b = write_extract(
        tmp_path / "b",
        [_person(2, 2025, amount=50_000)],
        extract_id="B",
        created_at="2026-01-02",
        tax_year=2025,
        extra_payees=[payee_row("PY1", tin="499999999", last_name="Wrong")],
    )
    c = write_extract(
        tmp_path / "c",
        [_person(2, 2025, amount=50_000)],
        extract_id="C",
        created_at="2026-01-03",
        tax_year=2025,
        supersedes="B",
    )
    for x in (a, b, c):
        st.ingest_extract(store, x)
    payees = st.live_tables(store, 2025)["payees"]
    assert payees.filter(pl.col("payee_id") == "PY1")[st.EXTRACT_COL].to_list() == ["A"]
    assert payees.filter(pl.col("payee_id") == "PY2")[st.EXTRACT_COL].to_list() == ["C"]


def test_an_event_id_already_live_under_another_plan_is_refused_naming_ids_and_plans_only(tmp_path):
    store = st.Store(tmp_path / "store")
    a = write_extract(
        tmp_path / "a",
        [_person(1, 2025, amount=100_000)],
        extract_id="A",
        created_at="2026-01-01",
        tax_year=2025,
    )
    b = write_extract(
        tmp_path / "b",
        [_person(2, 2025, amount=50_000)],
        extract_id="B",
        created_at="2026-01-02",
        tax_year=2025,
    )
    for t in ("plans", "participants", "distributions"):
        f = pl.read_parquet(b / f"{t}.parquet").with_columns(pl.lit("P2").alias("plan_id"))
        if "event_id" in f.columns:
            f = f.with_columns(pl.lit("E1").alias("event_id"))
        f.write_parquet(b / f"{t}.parquet")
    contracts = pl.read_parquet(b / "contracts.parquet").with_columns(pl.lit("E1").alias("event_id"))
    contracts.write_parquet(b / "contracts.parquet")
    st.ingest_extract(store, a)
    with pytest.raises(st.StoreError) as err:
        st.ingest_extract(store, b)
    assert "event_id E1 of plan P2 is already in the store under plan P1" in str(err.value)
    assert "40000000" not in str(err.value)
    assert st.ledger(store, 2025)["extract_id"].to_list() == ["A"]
    assert st.live_tables(store, 2025)["distributions"]["distribution_id"].to_list() == ["D1"]


def test_an_older_extract_delivered_a_night_late_does_not_override_a_newer_one(tmp_path):
    store = st.Store(tmp_path / "store")
    new = write_extract(
        tmp_path / "new",
        [_person(1, 2025, amount=150_000)],
        extract_id="NEW",
        created_at="2026-01-06T02:00:00",
        tax_year=2025,
    )
    old = write_extract(
        tmp_path / "old",
        [_person(1, 2025, amount=100_000)],
        extract_id="OLD",
        created_at="2026-01-05T02:00:00",
        tax_year=2025,
    )
    st.ingest_extract(store, new)
    st.ingest_extract(store, old)
    live = st.live_tables(store, 2025)["distributions"]
    assert live[st.EXTRACT_COL].to_list() == ["NEW"] and live["amount_cents"].to_list() == [150_000]
