# Two commands on a fresh machine:  `make reproduce`  and  `make test`.
# Offline machines point the data step at a mirror in torchvision's layout: DATA_MIRROR=/path make reproduce
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(BIN):$(PATH)

.PHONY: reproduce test test-fast test-e2e lint bench data venv params clean-venv site site-check

## reproduce: create .venv, fetch the data, run every stage of dvc.yaml at the profile params.yaml names (default);
## PROFILE=name runs another profile end to end as a DVC experiment in the workspace (`dvc exp run -S profile=name`),
## e.g. `make reproduce PROFILE=powered` on a GPU machine (its data: the default's)
PROFILE ?=
reproduce: params data
	$(if $(PROFILE),dvc exp run -S profile=$(PROFILE),dvc repro)

## test: create or reuse .venv and run the test suite but the end-to-end lane (about 4 minutes on 2 cores)
test: $(STAMP)
	python -m pytest -m "not e2e"

## test-fast: the same without the slow tests (DDP, run-store edits, benchmarks, the pruning example): about two minutes
test-fast: $(STAMP)
	python -m pytest -m "not slow and not e2e"

## test-e2e: the end-to-end lane: the smoke pipeline in a copy of the repository, then its site, export, sweeps, dvc exp
## and edits (about 13 minutes on 2 cores; CI runs it after `make test`)
test-e2e: $(STAMP)
	python -m pytest -m e2e

## lint: ruff's lint and format check over the code, tests, benchmarks and notebooks (line length 120; CI runs it)
lint: $(STAMP)
	ruff check lib tests benchmarks notebooks
	ruff format --check lib tests benchmarks notebooks

## site: build the reproduction's website into site/ from the executed notebooks (offline; run `make reproduce` or `dvc pull` first)
site: $(STAMP)
	python -m lib.publish.site build

## site-check: open every page of site/ in headless Chromium (Debian's chromium + chromium-driver), screenshots in site-screenshots/
site-check: $(STAMP)
	python -m lib.publish.site check

## bench: measure this machine (training vs attainable GFLOP/s, pruned speed vs MACs, relevance, stage resources)
bench: $(STAMP)
	python -m benchmarks

## data: fetch the datasets of the active profile into data/ (from $$DATA_MIRROR if set, else download)
data: $(STAMP)
	python -m lib.core.data

## params: check params.yaml (unknown keys, profiles, datasets) before any work
params: $(STAMP)
	python -m lib.params

venv: $(STAMP)

# The package installs as pruning_companion (editable); the checkout's notebooks, tests and stages import the same
# folder as lib, from the repository root the .pth file puts on the venv's path.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	echo "$(CURDIR)" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/pruning-companion-checkout.pth"
	touch $@

clean-venv:
	rm -rf $(VENV)
