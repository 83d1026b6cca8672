"""Demo sections contributed by each capability."""
