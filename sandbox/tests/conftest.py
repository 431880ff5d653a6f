"""The sandboxes' tests: the shared fixtures start them and validate them against the official specs."""

pytest_plugins = ["testkit.pytest_plugin"]
