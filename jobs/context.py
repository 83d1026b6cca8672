"""Where the CLI and batch jobs get their client: :func:`graph_engine.open_client`, the one call
from settings to a ready client (re-exported here for the command modules)."""

from graph_engine.connect import open_client

__all__ = ["open_client"]
