# clvlib workbench. `make help` lists the targets.
# Every target that needs Python creates .venv (python3 -m venv) and installs the project into it
# the first time, and again whenever pyproject.toml, constraints.txt, setup.py or the compiled
# kernels' C source change (stamp files in .venv/). Every install is constrained by
# constraints.txt, the whole dependency closure at exact versions (`make lock` remakes it).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The interpreter for .venv: PYTHON=... if given, else the first of python3 (pyenv honours the
# .python-version file here: 3.12), python3.13, python3.12 that is Python >= 3.12, else the
# oldest 3.12+ that pyenv has installed (3.12, the tested one; for a PATH without pyenv's shims).
PYENV_PYTHONS := $(shell ls -d $${PYENV_ROOT:-$${HOME:-}/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V)
PYTHON ?= $(shell for p in python3 python3.13 python3.12 $(PYENV_PYTHONS); do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$p; break; }; \
	done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp
PIP_INSTALL := $(BIN)/python -m pip install -c constraints.txt
INSTALL_INPUTS := pyproject.toml constraints.txt setup.py clvlib/models/_kernels.c
PANGO_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
JAVA_PACKAGES := openjdk-17-jre-headless
CHROMIUM_PACKAGES := chromium
COURSE_DIR := notebooks/teaching
COURSE_OUT ?= build/course
STUDENT_OUT ?= build/student
REPORT_PARAMS ?= clvlib/params/cdnow.yaml
REPORT_OUT ?= reports/cdnow

BENCH ?= full

.PHONY: help report test lab course student bench clean lock system-deps test-deps course-deps compiler FORCE

help: ## list the targets with what they do
	@echo "make <target>:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

report: system-deps $(STAMP)-base ## run the default CDNOW report into reports/cdnow (HTML, PDF, manifest)
	$(BIN)/clvlib report --params $(REPORT_PARAMS) --out $(REPORT_OUT)

# One pytest run of the tests and of every notebook (nbval, smoke mode), spread by pytest-xdist
# over as many workers as the machine has cores: conftest.py groups what must run together (a
# test file, a lesson, the pipeline notebooks) and hands the longest groups out first. It fails
# on any failure and on pytest's 5, "no tests collected".
test: system-deps test-deps $(STAMP)-dev ## run the tests (tests/) and every notebook under nbval in smoke mode
	$(BIN)/pytest tests notebooks --nbval-lax -n auto --dist loadfile --no-loadscope-reorder --durations=15

# Speed lives here, not in make test: nothing under tests/ runs the benchmarks.
bench: system-deps $(STAMP)-dev ## benchmarks vs pymc-marketing and lifetimes into benchmarks/RESULTS.md (BENCH=quick: a few minutes, into benchmarks/output/)
	$(BIN)/python -m benchmarks.run $(if $(filter quick,$(BENCH)),--quick,)

lab: $(STAMP)-lab ## start JupyterLab in notebooks/, opened on the course index (installs the lab extra the first time)
	cd notebooks && $(CURDIR)/$(BIN)/jupyter lab teaching/README.md $$([ "$$(id -u)" = 0 ] && echo --allow-root || true)

# The course site: nbconvert's HTML of each executed lesson plus an index and prev/next links
# (clvlib/teaching.py says why not Jupyter Book), then headless Chromium loads the index and a
# lesson and checks that the title, a figure and the navigation render (screenshots in
# $(COURSE_OUT)/screenshots). CLVLIB_SMOKE=1 make course builds it with few draws.
course: course-deps $(STAMP)-dev ## build the course site (every lesson executed) into build/course and check it in headless Chromium
	$(BIN)/python -m clvlib.teaching site $(COURSE_DIR) --out $(COURSE_OUT)
	$(BIN)/python -m clvlib.teaching browser-check $(COURSE_OUT) --screenshots $(COURSE_OUT)/screenshots

student: $(STAMP)-base ## write the student version of the course (solutions removed) into build/student
	$(BIN)/python -m clvlib.teaching strip $(COURSE_DIR) --out $(STUDENT_OUT)

# constraints.txt pins every package the project installs (the closure of pyproject.toml's pins
# with all extras), so that a fresh machine installs what the tests ran against.
lock: ## remake constraints.txt after a change of pyproject.toml's pins (a new venv, all extras, pip freeze)
	$(if $(PYTHON),,$(error clvlib needs Python 3.12 or newer; name one with PYTHON=...))
	$(PYTHON) tools/lock.py --python $(PYTHON)

clean: ## remove caches and rebuildable intermediates (keeps .venv, data/raw and reports/)
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -print0 | xargs -0 rm -rf
	rm -rf .pytest_cache .ruff_cache build dist
	find notebooks -type d -name artifacts -prune -exec rm -rf {} +
	find data/processed -mindepth 1 ! -name .gitkeep -delete

# $(call apt_install,CHECK,PACKAGES,WHAT): nothing when the shell test CHECK passes; else install
# the Debian PACKAGES with apt-get when root, or say which command would (and fail).
define apt_install
	@if $(1); then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing $(3): $(2)"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(2); \
	else \
		echo "Missing: $(3). Install it with:"; \
		echo "  sudo apt-get update && sudo apt-get install -y $(2)"; \
		exit 1; \
	fi
endef

system-deps: ## check for the Pango library the PDF needs; install it with apt-get when root
	$(call apt_install,{ ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } | grep libpango-1.0 >/dev/null,$(PANGO_PACKAGES),the Pango library and fonts for the PDF report)

test-deps: ## check for the Java (17 or newer) the Spark tests need, and under CI Chromium for the course's browser test; install them with apt-get when root
	$(call apt_install,java -version 2>&1 | grep -E 'version "(1[7-9]|[2-9][0-9])' >/dev/null,$(JAVA_PACKAGES),Java 17 or newer for the Spark tests)
	@if [ "$${CI:-}" = true ]; then $(MAKE) --no-print-directory course-deps; fi

# Installing clvlib compiles its log densities (clvlib/models/_kernels.c, a setuptools extension).
compiler: ## check for the C compiler that installing clvlib needs; install it with apt-get when root
	$(call apt_install,printf '#include <math.h>\nint main(void){return 0;}\n' | cc -x c - -o /dev/null 2>/dev/null,gcc libc6-dev,a C compiler for clvlib's compiled kernels)

course-deps: ## check for the Chromium that the course's browser check uses; install it with apt-get when root
	$(call apt_install,command -v chromium >/dev/null || command -v chromium-browser >/dev/null,$(CHROMIUM_PACKAGES),Chromium for the course's browser check)

# A .venv made by an older Python (3.11, before the move to PyMC 6) is replaced.
$(BIN)/python: FORCE
	@if [ -x $@ ] && $@ -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		exit 0; \
	fi; \
	if [ -z "$(PYTHON)" ]; then \
		echo "clvlib needs Python 3.12 or newer, and none was found (tried python3, python3.13, python3.12 and pyenv's versions)."; \
		echo "Install one (for example: pyenv install 3.12, or apt-get install python3.12 python3.12-venv),"; \
		echo "or name it: make $(MAKECMDGOALS) PYTHON=/path/to/python3.12"; \
		exit 1; \
	fi; \
	if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		echo "PYTHON=$(PYTHON) is not Python 3.12 or newer: $$($(PYTHON) --version 2>&1)"; exit 1; \
	fi; \
	rm -rf $(VENV); \
	echo "$(PYTHON) -m venv $(VENV)  # $$($(PYTHON) --version)"; \
	$(PYTHON) -m venv $(VENV)

FORCE:

# The project installed as "clvlib" before it took the distribution name clvlib-workbench (the
# PyPI name clvlib belongs to another project): an old .venv loses that install first.
$(STAMP)-base $(STAMP)-dev $(STAMP)-lab: $(STAMP)-renamed
$(STAMP)-renamed: | $(BIN)/python
	@if $(BIN)/python -m pip show -q clvlib >/dev/null 2>&1; then $(BIN)/python -m pip uninstall -y -q clvlib; fi
	touch $@

$(STAMP)-base: $(INSTALL_INPUTS) | $(BIN)/python compiler
	$(PIP_INSTALL) -e .
	touch $@

$(STAMP)-dev: $(INSTALL_INPUTS) | $(BIN)/python compiler
	$(PIP_INSTALL) -e ".[dev]"
	touch $@ $(STAMP)-base

$(STAMP)-lab: $(INSTALL_INPUTS) | $(BIN)/python compiler
	$(PIP_INSTALL) -e ".[lab]"
	touch $@ $(STAMP)-base
