"""`python -m migration_report`: the same as the `migration-report` command."""

from migration_report.cli import run

run()
