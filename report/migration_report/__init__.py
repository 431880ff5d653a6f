"""The PracticeHub → Pipedrive migration report, in three steps that each have their module:

inputs.py (read the mapper's and the target's files) → summary.py with migration.py (every number, as the JSON
summary) → render.py with charts.py and templates/ (the HTML page, Jinja2, autoescaped). build.py runs the
three; cli.py is the command line. REPORT.md specifies the inputs and what the page shows.
"""
