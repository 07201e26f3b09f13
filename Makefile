# The README's two commands: `make example` and `make test`.
.PHONY: example test test-fast setup system-packages

setup:
	scripts/bootstrap

example: setup system-packages
	.venv/bin/forecast update examples/events.csv --workspace example-workspace
	.venv/bin/forecast status --workspace example-workspace --json

# Both tiers: the fast tests and the sampling tests with small draw counts.
test: setup system-packages
	.venv/bin/pytest --run-slow

test-fast: setup system-packages
	.venv/bin/pytest

system-packages:
	scripts/system-packages
