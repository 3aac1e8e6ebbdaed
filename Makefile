# One-command set-up and the project's entry points. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.11
VENV      := $(CURDIR)/.venv
PY        := $(VENV)/bin/python
SITE      := $(VENV)/lib/python$(PYTHON_VERSION)/site-packages
BUILD     := $(CURDIR)/build/ros
BOOT      := $(CURDIR)/.cache/uv-bootstrap
UV        := $(or $(shell command -v uv 2>/dev/null),$(BOOT)/bin/uv)
REQS      := requirements/ros.txt requirements/ml.txt requirements/dev.txt
ROS_INPUTS := CMakeLists.txt package.xml m2h_ros/__init__.py $(wildcard msg/*.msg scripts/*) \
              $(shell find launch config -type f 2>/dev/null)

# What the venv needs at run time: the venv is the ament prefix (package share directories), open3d's
# bundled TBB must not clash with numba's, and numba caches its compiled kernels in the tree.
export AMENT_PREFIX_PATH := $(VENV)
export NUMBA_THREADING_LAYER := omp
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup test test-fast lint demo bench clean distclean

help:
	@echo "make setup   install everything into .venv (idempotent; the other targets call it)"
	@echo "make test    ruff + the whole test suite"
	@echo "make test-fast  ruff + the tests not marked slow (a quick check while editing)"
	@echo "make demo    replay a synthetic home through the nodes with the bundled weights; report in out/demo"
	@echo "make bench   the benchmarks under benchmarks/ (JSON under benchmarks/results/)"
	@echo "make lint    ruff only"
	@echo "make clean   remove build outputs; make distclean also removes .venv"

setup: $(VENV)/.stamp-ready

$(BOOT)/bin/uv:
	python3 -m venv $(BOOT)
	$(BOOT)/bin/pip install --quiet uv

$(VENV)/.stamp-venv: | $(UV)
	$(UV) venv --quiet --python $(PYTHON_VERSION) $(VENV)
	touch $@

# The ROS wheels' exported CMake targets carry the include paths of the container they were built in
# (".../python/cp311-cp311/..."); point them at this venv's Python and numpy headers.
$(VENV)/.stamp-deps: $(VENV)/.stamp-venv $(REQS)
	$(UV) pip install --quiet --python $(PY) $(addprefix -r ,$(REQS))
	pyinc=$$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['include'])"); \
	npinc=$$($(PY) -c "import numpy; print(numpy.get_include())"); \
	{ grep -rl "python/cp3[0-9]*-cp3[0-9]*/" $(VENV)/share --include='*.cmake' || true; } | xargs -r sed -i -E \
	  -e "s#[^\";]*/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$$pyinc#g" \
	  -e "s#[^\";]*/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$$npinc#g"
	touch $@

# open3d links the system libusb.
$(VENV)/.stamp-libusb: $(VENV)/.stamp-venv
	if ! ldconfig -p | grep -q 'libusb-1.0.so.0'; then \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get install -y -qq libusb-1.0-0 >/dev/null 2>&1 || \
	    { $$sudo apt-get update -qq && $$sudo apt-get install -y -qq libusb-1.0-0 >/dev/null; }; \
	fi
	touch $@

# The messages, built with ament_cmake/rosidl into the venv; the Python sources stay in the tree.
$(VENV)/.stamp-msgs: $(VENV)/.stamp-deps $(ROS_INPUTS)
	PATH=$(VENV)/bin:$$PATH cmake -S . -B $(BUILD) -G Ninja -Wno-dev --log-level=WARNING \
	  -DCMAKE_INSTALL_PREFIX=$(VENV) -DPython3_EXECUTABLE=$(PY) -DBUILD_TESTING=OFF -DM2H_DEVELOP=ON -DM2H_PYTHON=$(PY)
	PATH=$(VENV)/bin:$$PATH cmake --build $(BUILD) -j2 > $(BUILD)/build.log || { tail -40 $(BUILD)/build.log; exit 1; }
	cmake --install $(BUILD) > /dev/null
	echo $(CURDIR) > $(SITE)/m2h_ros_develop.pth
	touch $@

$(VENV)/.stamp-ready: $(VENV)/.stamp-msgs $(VENV)/.stamp-libusb
	cd /tmp && $(PY) -c "import rclpy, torch, timm, open3d, spark_dsg, rosbags; from m2h_ros.msg import SceneGraph"
	touch $@

lint: setup
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest

test-fast: setup lint
	$(PY) -m pytest -m "not slow"

# The demo: a synthetic home the bundled weights never saw, replayed through the nodes over DDS on
# this machine only, evaluated against its ground truth. The bag is built once and reused.
DEMO      := out/demo
demo: setup
	test -d $(DEMO)/home || $(PY) -m m2h_ros.cli synth bag $(DEMO)/home --seed 60 --frames 80
	ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST $(PY) -m m2h_ros.cli bag eval $(DEMO)/home --out $(DEMO)/report

# Every file under benchmarks/results/, each by the command it records; run it on an otherwise idle machine.
BENCHMARKS := $(filter-out benchmarks/provenance.py,$(wildcard benchmarks/*.py))
bench: setup
	for b in $(BENCHMARKS); do echo "== $$b"; $(PY) $$b; done
	$(PY) benchmarks/model_speed.py --variants m2h_lite m2h_lite2 m2h_lite_vit m2h --sizes 224x298 --out model_speed_node
	$(PY) benchmarks/node_pipeline.py --transport default

clean:
	rm -rf build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

distclean: clean
	rm -rf .venv .cache
