"""medkg recommend package."""
