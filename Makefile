# ISSC: `make run` starts the dashboard, `make test` runs every test. Both install first if needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: setup run test lint format bench system-deps clean

setup: $(STAMP)

# requirements.txt is the complete pinned set (every transitive package), installed with
# --no-deps so exactly one OpenCV (the headless 4.12 build) ends up in the venv:
# inference-sdk and supervision ask for the GUI build `opencv-python`, which shares the cv2
# folder and is deliberately left out.
$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.txt
	-$(BIN)/python -m pip uninstall --quiet -y opencv-python opencv-contrib-python 2>/dev/null
	$(BIN)/python -c "import cv2; cv2.HOGDescriptor; cv2.CascadeClassifier; print('OpenCV', cv2.__version__, 'ok')"
	touch $(STAMP)

# Binds 127.0.0.1 unless SERVER_ADDRESS (from the environment, e.g. `SERVER_ADDRESS=0.0.0.0 make run`)
# says otherwise; beyond loopback, AUTH=auto asks every visitor to sign in (see issc.auth).
run: setup
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.address "$${SERVER_ADDRESS:-127.0.0.1}"

# Debian's Chromium drives the browser tests (Playwright cannot download its own browser here);
# Debian's PostgreSQL binaries let the tests start a throwaway cluster of their own (tests/postgres.py)
# when ISSC_TEST_POSTGRES_URL is not set; nginx stands in front for the reverse-proxy tests; the free
# fonts render the synthetic plates the training commands (and their tests) use.
system-deps:
	@need=""; \
	command -v chromium >/dev/null || need="$$need chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql"; \
	test -x /usr/sbin/nginx || command -v nginx >/dev/null || need="$$need nginx"; \
	ls /usr/share/fonts/truetype/opendin/*.ttf >/dev/null 2>&1 || need="$$need fonts-opendin"; \
	test -d /usr/share/fonts/truetype/roboto/unhinted || need="$$need fonts-roboto-unhinted"; \
	test -d /usr/share/fonts/truetype/liberation || need="$$need fonts-liberation"; \
	test -d /usr/share/fonts/truetype/dejavu || need="$$need fonts-dejavu-core"; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	  else echo "missing:$$need: their tests will be skipped (sudo apt-get install$$need)"; fi; \
	fi

test: setup system-deps
	$(BIN)/ruff check issc tests pages scripts app.py
	$(BIN)/ruff format --check issc tests pages scripts app.py
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check issc tests pages scripts app.py
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format issc tests pages scripts app.py
	$(BIN)/ruff check --fix issc tests pages scripts app.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
