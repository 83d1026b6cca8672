"""Keyed pseudonyms for patients: ``SYN:<HMAC-SHA256(key, source id)[:24]>``.

The key is a secret handled like the Neo4j password (``graph_engine.settings``):
``MEDKG_PATIENT_KEY`` (the key itself), else ``MEDKG_PATIENT_KEY_FILE``, else
``$MEDKG_HOME/patient-key`` (mode 0600, generated on first use). Without the key
a pseudonym cannot be linked back to the source record; the same key always
gives the same pseudonym, so re-imports are idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from graph_engine.errors import ConfigError
from graph_engine.settings import Settings, read_secret_file, write_secret_file

PREFIX = "SYN:"


def key_file(settings: Settings) -> Path:
    return settings.home / "patient-key"


def load_key(settings: Settings | None = None, env: Mapping[str, str] | None = None, create: bool = True) -> bytes:
    """The pseudonymisation key (never logged); generated into a 0600 file on first use.

    Raises:
        ConfigError: the key is too short, or its file is unsafe / missing with ``create=False``.
    """
    env = os.environ if env is None else env
    settings = settings or Settings.load(env)
    if env.get("MEDKG_PATIENT_KEY"):
        key = env["MEDKG_PATIENT_KEY"]
    else:
        path = Path(env["MEDKG_PATIENT_KEY_FILE"]) if env.get("MEDKG_PATIENT_KEY_FILE") else key_file(settings)
        if not path.exists():
            if not create or env.get("MEDKG_PATIENT_KEY_FILE"):
                raise ConfigError(f"patient key file {path} does not exist")
            write_secret_file(path, secrets.token_hex(32))
        key = read_secret_file(path)
    if len(key) < 16:
        raise ConfigError("the patient pseudonymisation key must have at least 16 characters")
    return key.encode("utf-8")


class Pseudonymizer:
    """Maps source patient ids to stable keyed pseudonyms (``repr`` hides the key)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymizer(key=***)"

    def __call__(self, source_id: str) -> str:
        digest = hmac.new(self._key, source_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return PREFIX + digest[:24]
