# Everything a fresh machine needs: `make demo` and `make test` create .venv, install the
# project with its pinned torch, install Java when it is missing (caption metrics), then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.padt-eval-installed
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test bench leaderboard clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v java >/dev/null 2>&1 || { \
	  echo "Java not found: installing default-jre-headless (needed by the caption metrics)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq default-jre-headless >/dev/null; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/padt-eval demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_rec_res.py
	$(PY) benchmarks/bench_padt_generate.py
	$(PY) benchmarks/bench_runner.py

clean:
	rm -rf $(VENV) .pytest_cache demo_out
