"""One typed settings object, layered: defaults -> config file -> environment.

Secrets (the Neo4j password) come only from the environment or from a file
whose mode is 0600; they are never logged (``repr`` masks them).

Environment variables:
    NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE: any Neo4j server.
    NEO4J_PASSWORD_FILE: a 0600 file holding the password.
    MEDKG_HOME: state directory (managed server, models, runs); default ``~/.medkg``.
    MEDKG_CONFIG: a TOML config file; default ``$MEDKG_HOME/config.toml`` if present.
    MEDKG_BATCH_SIZE: rows per write transaction.
    MEDKG_NEO4J_VERSION: Neo4j version for the managed server.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from graph_engine.errors import ConfigError

DEFAULT_NEO4J_VERSION = "5.26.0"


def _default_home() -> Path:
    return Path(os.environ.get("MEDKG_HOME", Path.home() / ".medkg")).expanduser()


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """``["training.patience=4000", "refit_all=false"]`` -> ``{"training.patience": 4000, "refit_all": False}``.

    Command-line ``--set KEY=VALUE`` options. Values are parsed as JSON when they
    are valid JSON (numbers, booleans, quoted strings, lists), otherwise kept as
    strings; keys are stripped.

    Raises:
        ValueError: an item has no ``=`` or an empty key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def read_secret_file(path: Path) -> str:
    """Read a secret from ``path``, refusing files readable by group or others.

    Raises:
        ConfigError: the file is missing or its mode is looser than 0600.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as e:
        raise ConfigError(f"secret file {path} does not exist") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"secret file {path} has mode {stat.S_IMODE(mode):o}; it must be 0600 "
            f"(run: chmod 600 {path})"
        )
    return path.read_text(encoding="utf-8").strip()


def write_secret_file(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` created with mode 0600 (never briefly wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class Settings:
    """Everything medkg needs to know about its environment.

    ``uri`` is ``None`` when no server was configured: the CLI then uses the
    managed local server.
    """

    uri: str | None = None
    user: str = "neo4j"
    password: str | None = field(default=None, repr=False)
    database: str = "neo4j"
    home: Path = field(default_factory=_default_home)
    batch_size: int = 5000
    neo4j_version: str = DEFAULT_NEO4J_VERSION
    heap_size: str = "1g"
    pagecache_size: str = "512m"
    listen_address: str = "127.0.0.1"
    max_retry_time: float = 30.0

    def __repr__(self) -> str:  # secrets never reach logs
        shown = ", ".join(
            f"{f.name}={'***' if f.name == 'password' and self.password else getattr(self, f.name)!r}"
            for f in fields(self)
        )
        return f"Settings({shown})"

    @property
    def server_dir(self) -> Path:
        """Where the managed Neo4j server lives (jars, data, logs, password)."""
        return self.home / "neo4j" / self.neo4j_version

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def with_overrides(self, **kwargs: Any) -> "Settings":
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, config_file: Path | None = None) -> "Settings":
        """Build settings from defaults, then a TOML file, then the environment.

        Args:
            env: environment mapping (default ``os.environ``).
            config_file: TOML file; default ``$MEDKG_CONFIG`` or ``$MEDKG_HOME/config.toml``.

        Raises:
            ConfigError: a value has the wrong type or a secret file is unsafe.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        home = Path(env.get("MEDKG_HOME", Path.home() / ".medkg")).expanduser()
        values["home"] = home
        path = config_file or (Path(env["MEDKG_CONFIG"]) if env.get("MEDKG_CONFIG") else home / "config.toml")
        if path.exists():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{path}: invalid TOML: {e}") from e
            section = data.get("medkg", data)
            known = {f.name for f in fields(cls)}
            for key, value in section.items():
                if key == "password":
                    raise ConfigError(
                        f"{path}: 'password' must not be stored in the config file; "
                        "use NEO4J_PASSWORD or NEO4J_PASSWORD_FILE (mode 0600)"
                    )
                if key not in known:
                    raise ConfigError(f"{path}: unknown setting {key!r}; known: {sorted(known - {'password'})}")
                values[key] = Path(value).expanduser() if key == "home" else value
        mapping = {
            "NEO4J_URI": "uri",
            "NEO4J_USER": "user",
            "NEO4J_USERNAME": "user",
            "NEO4J_DATABASE": "database",
            "MEDKG_NEO4J_VERSION": "neo4j_version",
            "MEDKG_HEAP_SIZE": "heap_size",
            "MEDKG_PAGECACHE_SIZE": "pagecache_size",
            "MEDKG_LISTEN_ADDRESS": "listen_address",
        }
        for var, key in mapping.items():
            if env.get(var):
                values[key] = env[var]
        if env.get("MEDKG_BATCH_SIZE"):
            try:
                values["batch_size"] = int(env["MEDKG_BATCH_SIZE"])
            except ValueError as e:
                raise ConfigError(f"MEDKG_BATCH_SIZE must be an integer, got {env['MEDKG_BATCH_SIZE']!r}") from e
        if env.get("NEO4J_PASSWORD"):
            values["password"] = env["NEO4J_PASSWORD"]
        elif env.get("NEO4J_PASSWORD_FILE"):
            values["password"] = read_secret_file(Path(env["NEO4J_PASSWORD_FILE"]))
        settings = cls(**values)
        if settings.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {settings.batch_size}")
        return settings
