"""Fixtures that start the Pipedrive sandbox on 127.0.0.1."""
