"""medkg jobs package."""
