"""Fixtures that start the PracticeHub sandbox on 127.0.0.1."""
