# The two commands: `make run` and `make test`. Everything else is a step they use.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test deps system-deps venv frontend services stop lint typecheck migrations-check \
        pytest frontend-test schema clean security-long

run: deps frontend
	scripts/run.sh

test: deps frontend services lint typecheck migrations-check pytest frontend-test
	@echo "All checks passed."

deps: system-deps venv

system-deps:
	@scripts/system-deps.sh

venv: .venv/.installed

.venv/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

frontend: frontend/node_modules/.installed frontend/dist/index.html scripts/oidc-provider/node_modules/.installed

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The test OIDC provider (node-oidc-provider) the SSO tests and `make run` sign in through.
scripts/oidc-provider/node_modules/.installed: scripts/oidc-provider/package.json scripts/oidc-provider/package-lock.json
	cd scripts/oidc-provider && npm ci --no-audit --no-fund --loglevel=error
	touch $@

frontend/dist/index.html: frontend/node_modules/.installed $(shell find frontend/src frontend/index.html frontend/vite.config.ts -type f 2>/dev/null)
	cd frontend && npm run build --silent

services:
	@scripts/services.sh start

stop:
	@scripts/services.sh stop

lint:
	.venv/bin/ruff check .
	.venv/bin/lint-imports --no-cache

typecheck:
	.venv/bin/mypy .

migrations-check:
	PORTAL_ENV=test $(PY) manage.py makemigrations --check --dry-run

# Browser tests run in their own session: Playwright's sync API holds an event loop in the main
# thread while it runs, which must not overlap the asyncio tests. Both sessions run on two xdist
# workers, each with its own test database, Redis database, sandbox fleet and Celery worker
# (docs/development.md); a module's tests stay on one worker (--dist loadfile).
pytest:
	.venv/bin/pytest -q -m "not browser" -n 2 --dist loadfile
	.venv/bin/pytest -q -m browser -n 2 --dist loadfile

# `npm run size` checks every route's initial JavaScript against frontend/size-budgets.json, from the
# build `make frontend` made (frontend/dist); it also writes bench/results/bundle_sizes.json.
frontend-test:
	cd frontend && npm run typecheck --silent && npm run check:api --silent && npm test --silent && npm run size --silent

# Regenerate the OpenAPI document and the typed frontend client after an API change.
schema:
	PORTAL_ENV=test $(PY) manage.py spectacular --format openapi-json --validate --fail-on-warn --file frontend/openapi.json
	cd frontend && npm run gen:api --silent

# The security suite with many more generated requests and a random seed (nightly; about 30 min).
# SCHEMATHESIS_EXAMPLES and SCHEMATHESIS_SEED override; figures land in var/security/.
security-long: deps services
	.venv/bin/python bench/schemathesis_long.py

clean:
	rm -rf .venv frontend/node_modules frontend/dist .mypy_cache .ruff_cache .pytest_cache
