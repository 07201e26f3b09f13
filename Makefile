# The README's two commands: `make example` and `make test`.
.PHONY: example test test-fast lint mutation setup system-packages

setup:
	scripts/bootstrap

example: setup system-packages
	.venv/bin/forecast update examples/events.csv --workspace example-workspace
	.venv/bin/forecast status --workspace example-workspace --json

# Both tiers: the fast tests and the sampling tests with small draw counts.
test: setup system-packages lint
	.venv/bin/pytest --run-slow

test-fast: setup system-packages lint
	.venv/bin/pytest

# Mutation testing (docs/MUTATION.md): mutmut mutates the modules that decide what the user is
# told ([tool.mutmut] in pyproject.toml) and runs the fast tier's tests that reach each mutant;
# prints the score (killed / total) and the survivors. Resumes where a stopped run left off.
mutation: setup
	nice -n 10 .venv/bin/mutmut run --max-children 2
	.venv/bin/python scripts/mutation_report.py

# Style and the layer contract (ARCHITECTURE.md): each subpackage imports only those below it.
lint: setup
	.venv/bin/ruff check forecast tests benchmarks scripts
	.venv/bin/lint-imports

system-packages:
	scripts/system-packages
