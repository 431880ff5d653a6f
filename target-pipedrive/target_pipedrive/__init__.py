"""target_pipedrive."""
