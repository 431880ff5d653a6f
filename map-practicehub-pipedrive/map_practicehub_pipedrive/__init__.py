"""map_practicehub_pipedrive."""
