"""practicehub_sandbox."""
