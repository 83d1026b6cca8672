"""medkg models package."""
