# 心联 xinlian. Needs only python3 (>= 3.11) and make; everything else goes into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: install demo serve test test-sqlite test-postgres bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

demo: install
	$(BIN)/xinlian demo --port $(PORT)

serve: install
	$(BIN)/xinlian serve --port $(PORT)

# The whole suite on SQLite; and on PostgreSQL too when XINLIAN_TEST_DATABASE_URL is set.
test: install
	env -u XINLIAN_TEST_DATABASE_URL $(BIN)/python -m pytest -q
	@if [ -n "$$XINLIAN_TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL: $$XINLIAN_TEST_DATABASE_URL =="; \
		$(BIN)/python -m pytest -q -m "not browser and not realdata"; \
	fi

bench: install
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,bench]"
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/relay.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
