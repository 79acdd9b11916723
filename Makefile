# The two commands: `make demo` (one sandbox host, deployed, URLs printed) and `make test` (everything).
# While editing: `make check` (lint, unit and plan tests: no host, under a minute).
VENV := .venv
PY := $(VENV)/bin/python
PYINFRA := $(VENV)/bin/pyinfra

.PHONY: demo demo-cluster test check lint down bench venv

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

demo: venv
	$(PY) -m sandbox images
	$(PY) -m sandbox up --hosts 1
	$(PYINFRA) -y inventory/sandbox.py deploy.py
	@$(PY) -m dev.demo

# Fresh hosts: a demo host's registry holds data on its own disk, which the deploy never moves into S3.
demo-cluster: venv
	$(PY) -m sandbox images
	$(PY) -m sandbox down
	$(PY) -m sandbox up --hosts 4 --s3
	$(PYINFRA) -y inventory/sandbox_cluster.py deploy.py
	@echo "Registry replicas on one S3 bucket (registry and UI URLs); the last host is the load balancer:"
	@$(PY) -m sandbox status
	@$(PY) -c "from sandbox.hosts import read_state; h = read_state()['hosts'][-1]; \
	    print(f\"load balancer: https://127.0.0.1:{h['registry_port']} (as {h['name']}:5000 on the hosts)\")"

# Unit, plan and sandbox tests in one pytest, and each end-to-end file in a pytest of its own on hosts its
# session makes fresh (a file that leaned on another's state would fail here), on 3 workers side by side,
# each with its own sandbox slot; one failing file does not stop the others (all are listed at the end).
test: venv
	$(PY) -m tests.parallel --workers 3

# ruff on the Python; shellcheck on the host scripts as the deploy renders them (tests/unit/test_scripts.py).
lint: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q tests/unit/test_scripts.py

check: lint
	$(PY) -m pytest -q tests/unit tests/plan

# Every slot's hosts (make test's workers use slots 0 to 2; a killed run leaves theirs).
down: venv
	@for slot in 0 1 2 3 4 5 6 7 8 9; do SANDBOX_SLOT=$$slot $(PY) -m sandbox down | grep -v "removed 0 host"; done; true

bench: venv
	$(PY) -m benchmarks.bench
