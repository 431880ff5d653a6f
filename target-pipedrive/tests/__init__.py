"""Tests of target-pipedrive against the Pipedrive sandbox."""
