# prorata — two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   creates .venv, builds the sample extract, runs `prorata run` end to end
#   make test   creates .venv and runs the test suite (all of it: servers, browsers, Dask included)
#   make check  the fast part, for the edit-test loop: the kernels, the law, contracts, engine, IRS writers, the
#               CLI and run I/O without Prefect, the layers and the golden hashes (the folders of
#               CHECK_TESTS, every test not marked with one of CHECK_SKIPS: pyproject.toml lists them)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIPLOG := $(VENV)/pip-install.log

.PHONY: demo test check lint bench bench-100m clean env prefect-server prefect-server-stop postgres postgres-stop prefect-server-postgres

env: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@echo "setting up $(VENV) (first time takes about a minute)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock >$(PIPLOG) 2>&1 \
	  || (grep -v '^WARNING: Location' $(PIPLOG); exit 1)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e . >>$(PIPLOG) 2>&1 \
	  || (grep -v '^WARNING: Location' $(PIPLOG); exit 1)
	@touch $(STAMP)

demo: $(STAMP)
	@mkdir -p out
	@echo "== a recordkeeper's own CSV files, mapped into the canonical extract (sample_data/import/keystone.toml)"
	@$(BIN)/prorata import sample_data/import/keystone --mapping sample_data/import/keystone.toml --out out/keystone-extract
	@$(BIN)/prorata run out/keystone-extract --out out/keystone --no-prefect --quiet --export xlsx
	@echo "== the 5,000-disbursement synthetic extract"
	@$(BIN)/prorata sample --disbursements 5000 --seed 2025 --out sample_data/extract
	@$(BIN)/prorata run sample_data/extract --out out/demo
	@echo "explain one disbursement:  $(BIN)/prorata explain D0000001 --run out/demo"

# make test runs the tests in TEST_WORKERS processes (pytest-xdist; a test file stays in one worker, so
# its module fixtures are built once): 2 fits CI's two cores; TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2
test: $(STAMP)
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

CHECK_TESTS := tests/kernels tests/law tests/contracts tests/engine tests/irs tests/flows/cli tests/flows/io tests/flows/test_environment.py tests/meta tests/golden
CHECK_SKIPS := not (prefect or server or browser or dask or kills or faults or store or slow)
check: $(STAMP)
	@$(BIN)/python -m pytest $(CHECK_TESTS) -m "$(CHECK_SKIPS)"

lint: $(STAMP)
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	@$(BIN)/python -m benchmarks.run_bench

# opt-in: 100 M disbursements (about 15 GB of extract and outputs on disk; not in CI)
# 100 M disbursements: the 59 GB FIRE file is streamed through our checker but not kept (it does
# not fit beside the extract and outputs on a 80 GB disk): PRORATA_IRS_FILE_SINK=discard
bench-100m: $(STAMP)
	@BENCH_SIZES=100000000 PRORATA_IRS_FILE_SINK=discard $(BIN)/python -m benchmarks.run_bench --no-statements

# A self-hosted Prefect server (docs/OPERATIONS-server.md): SQLite under $(PREFECT_SERVER_HOME) by
# default; `make prefect-server-postgres` runs it on PostgreSQL from Debian's packages instead.
PREFECT_SERVER_HOME ?= .prefect-server
PREFECT_SERVER_PORT ?= 4200
PG_DIR  ?= .postgres
PG_PORT ?= 54329
PG_URL  := postgresql+asyncpg://prefect:prefect@127.0.0.1:$(PG_PORT)/prefect

prefect-server: $(STAMP)
	@$(BIN)/python -m flows.prefect.server start --home $(PREFECT_SERVER_HOME) --port $(PREFECT_SERVER_PORT)

prefect-server-stop: $(STAMP)
	@$(BIN)/python -m flows.prefect.server stop --home $(PREFECT_SERVER_HOME)
	@$(BIN)/python -m flows.prefect.server stop --home $(PREFECT_SERVER_HOME)-postgres >/dev/null

postgres:
	@scripts/postgres.sh start $(PG_DIR) $(PG_PORT)

postgres-stop:
	@scripts/postgres.sh stop $(PG_DIR)

prefect-server-postgres: $(STAMP) postgres
	@$(BIN)/python -m flows.prefect.server start --home $(PREFECT_SERVER_HOME)-postgres --port $(PREFECT_SERVER_PORT) --database-url $(PG_URL)

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
