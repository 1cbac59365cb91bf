# The README's two commands: `make run` (whole pipeline on the bundled sample data) and
# `make test`. Both create .venv when missing and install the project with its dev extras.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: run test ui install sample-data bench profile

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

$(DAGSTER_HOME)/dagster.yaml: deploy/local.dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp deploy/local.dagster.yaml $@

run: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m amed_pipeline refresh

# Before the tests, here and in CI: lint and format checks (ruff, configured in pyproject.toml) and
# `dagster definitions validate` on both code locations of workspace.yaml.
test: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/dagster definitions validate -w workspace.yaml
	$(PY) -m pytest

ui: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Regenerate the committed scale-1 sample (deterministic).
sample-data: install
	$(PY) -m amed_pipeline.sample_data --out data

# Benchmark the nightly refresh against the bare-DuckDB floor (prints a table; not a test).
# K = 100 also runs against PostgreSQL when a throw-away server can be started (needs root).
bench: install
	@PG_URL="$$(bash scripts/start_test_postgres.sh 2>/dev/null | sed -n 's/^export AMED_TEST_POSTGRES_URL=//p')"; \
	if [ -z "$$PG_URL" ]; then echo "no PostgreSQL server could be started: DuckDB only"; fi; \
	$(PY) benchmarks/run_benchmark.py $${PG_URL:+--postgres-url $$PG_URL} $(BENCH_ARGS)

# Profile one full refresh in process (pyinstrument); PROFILE_ARGS="--scale 1000" for another scale.
profile: install
	$(PY) benchmarks/profile_refresh.py $(PROFILE_ARGS)
