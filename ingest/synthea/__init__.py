"""Synthea synthetic patient histories: provisioning, PHI-free reading, graph import."""
