"""tap_practicehub."""
