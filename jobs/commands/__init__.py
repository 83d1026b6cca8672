"""CLI command modules, one per capability.

Each module defines its commands at module level and exposes
``register(root: click.Group) -> None`` that adds them to the root group or to
a shared group (``ingest``, ``enrich``, ``evaluate``), found or created by
:func:`jobs.groups.subgroup`. ``jobs.cli`` calls them in order. Errors: the one
wrapper :mod:`jobs.errors`; printing rows: :mod:`jobs.output`.
"""

MODULES = (
    "jobs.commands.scoring",
    "jobs.commands.nlp",
    "jobs.commands.recommend",
    "jobs.commands.models",
    "jobs.commands.chem",
    "jobs.commands.extraction_eval",
    "jobs.commands.runs",
    "jobs.commands.patients",
    "jobs.commands.sequence",
    "jobs.commands.gan",
)
