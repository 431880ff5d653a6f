"""pipedrive_sandbox."""
