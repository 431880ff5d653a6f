"""One module per Pipedrive entity: each turns a PracticeHub record into entity records."""
