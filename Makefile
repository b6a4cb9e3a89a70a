# Two commands do all the set-up: `make demo` runs the main job, `make test` runs the tests.
# Both create .venv when needed and reinstall only when pyproject.toml or the pins change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT := out/demo

.PHONY: demo test bench validate clean venv reference

venv: $(STAMP)

$(STAMP): pyproject.toml requirements-timm.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned to the local CPU build 2.13.0 in pyproject.toml; an unpinned torch pulls CUDA.
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps -r requirements-timm.txt
	$(PY) -m pip install --quiet --no-deps "hls4ml==1.3.0"  # only its ap_int/ap_fixed headers (HLS tests); no tensorflow
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/codesign simulate deit_tiny_patch16_224 --accel zcu102 --device zcu102 --precision w8a8 --summary --plot $(DEMO_OUT)
	# the whole network, every layer in one C-simulation against the integer reference (about a minute)
	$(VENV)/bin/codesign emit-hls deit_tiny_patch16_224 --accel zcu102 --device zcu102 --precision w8a8 -o $(DEMO_OUT)/hls --force --csim

test: $(STAMP)
	$(PY) -m pytest -q

# retrain the reference models' committed weights (a few minutes on 2 cores; not part of `make test`)
reference: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(PY) scripts/train_reference.py

bench: $(STAMP)
	$(PY) benchmarks/bench_inspect.py
	$(PY) benchmarks/bench_engine.py

validate: $(STAMP)
	$(PY) benchmarks/validate.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
