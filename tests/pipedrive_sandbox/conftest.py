"""The sandbox's tests validate it against the official specs: fixtures in tests/fixtures_openapi.py."""
