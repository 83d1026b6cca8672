"""CLI command modules, one per capability.

Each module exposes ``register(root: click.Group) -> None`` that adds its
commands to the root group (or to the shared ``ingest`` / ``enrich`` groups,
looked up with ``root.commands[name]``). ``jobs.cli`` calls them in order.
"""

MODULES = (
    "jobs.commands.scoring",
    "jobs.commands.nlp",
    "jobs.commands.recommend",
    "jobs.commands.models",
    "jobs.commands.gan",
)
