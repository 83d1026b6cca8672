"""medkg ingest package."""
