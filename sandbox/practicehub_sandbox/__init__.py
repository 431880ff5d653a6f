"""A local server that behaves like the PracticeHub API, for tests, rehearsals and benchmarks.

``cli`` (the practicehub-sandbox command) -> ``runner`` (waitress on 127.0.0.1) -> ``server`` (the Flask
app) -> ``store`` / ``filters`` / ``paging`` / ``ratelimit`` / ``faults`` / ``blobs`` / ``stats``;
``data`` generates the synthetic practice; ``control`` is a client for the /_sandbox endpoints.
"""
