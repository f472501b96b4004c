# Everything a fresh machine needs: `make demo` and `make test` create .venv, install the
# project with its pinned torch, install Java and Chromium when missing, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.padt-eval-installed
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test lint docs bench leaderboard clean

install: $(STAMP)

# System packages, installed in one apt-get call when missing: Java (caption metrics) and
# Chromium (the test that opens the HTML reports in a real headless browser).
$(STAMP): pyproject.toml
	@missing=""; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Java: caption metrics; Chromium: HTML report test)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/padt-eval demo

test: $(STAMP)
	$(PY) -m pytest -q

# ruff's rules and width and the import-layering contracts are in pyproject.toml; .ci/run lints
# before testing. PYTHONPATH: check this checkout's padt_eval even where another one is installed.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" $(VENV)/bin/lint-imports

# docs/reference/cli.md and formats.md are generated; tests/test_generated_docs.py checks them
docs: $(STAMP)
	$(PY) -m padt_eval.tools.gen_docs

# The demo's runs go to results/demo/ (not committed); the tables to results/leaderboard.*
leaderboard: $(STAMP)
	rm -rf results/demo
	$(VENV)/bin/padt-eval demo --out demo_out --results results/demo
	$(VENV)/bin/padt-eval leaderboard --results results --out results

bench: $(STAMP)
	$(PY) benchmarks/bench_floor.py
	$(PY) benchmarks/bench_rec_res.py
	$(PY) benchmarks/bench_ovd.py
	$(PY) benchmarks/bench_ric.py
	$(PY) benchmarks/bench_padt_generate.py
	$(PY) benchmarks/bench_runner.py

clean:
	rm -rf $(VENV) .pytest_cache demo_out
