"""HTML and SVG pieces of the migration report (kept in Python so a wheel needs no package data)."""
