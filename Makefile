# prorata — two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   creates .venv, builds the sample extract, runs `prorata run` end to end
#   make test   creates .venv and runs the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIPLOG := $(VENV)/pip-install.log

.PHONY: demo test lint bench bench-100m clean env

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
	@$(BIN)/prorata sample --disbursements 5000 --seed 2025 --out sample_data/extract
	@$(BIN)/prorata run sample_data/extract --out out/demo
	@echo "explain one disbursement:  $(BIN)/prorata explain D0000001 --out out/demo"

test: $(STAMP)
	@$(BIN)/python -m pytest

lint: $(STAMP)
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	@$(BIN)/python -m benchmarks.run_bench

# opt-in: 100 M disbursements (about 15 GB of extract and outputs on disk; not in CI)
bench-100m: $(STAMP)
	@BENCH_SIZES=100000000 $(BIN)/python -m benchmarks.run_bench --no-statements

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
