"""practicehub_pipedrive."""
