"""Synthea (``org.mitre.synthea:synthea``), provisioned from Maven Central and run offline.

Managed like the local Neo4j server (``graph_engine.server``): ``mvn
dependency:copy-dependencies`` resolves the Synthea jar and its dependencies
into ``$MEDKG_HOME/synthea/<version>/lib`` once (``lib/.complete`` marks a
finished download); later runs are offline::

    java -cp "lib/*" App -p N -s SEED --exporter.csv.export=true \
         --exporter.fhir.export=false --exporter.baseDirectory=DIR STATE

The CSV export lands in ``DIR/csv``; :func:`generate` moves it to ``DIR``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from graph_engine.errors import ConfigError, ServerError
from graph_engine.server import find_java, find_mvn, maven_provision
from graph_engine.settings import Settings

DEFAULT_SYNTHEA_VERSION = "3.3.0"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.medkg</groupId>
  <artifactId>synthea-provision</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.mitre.synthea</groupId>
      <artifactId>synthea</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


# large billing/location files medkg never reads (organizations/providers carry addresses)
_UNUSED_FILES = ("patient_expenses.csv", "claims.csv", "claims_transactions.csv", "payer_transitions.csv",
                 "payers.csv", "organizations.csv", "providers.csv", "supplies.csv", "imaging_studies.csv")


class SyntheaError(ServerError):
    """Synthea could not be provisioned or failed to generate a cohort."""


@dataclass(frozen=True)
class Cohort:
    """What :func:`generate` made: the CSV folder and the parameters that reproduce it."""

    directory: Path
    patients: int
    seed: int
    state: str
    version: str


class Synthea:
    """Provision and run Synthea under ``settings.home / "synthea" / version``."""

    def __init__(self, settings: Settings, version: str | None = None) -> None:
        self.version = version or os.environ.get("MEDKG_SYNTHEA_VERSION", DEFAULT_SYNTHEA_VERSION)
        self.root = settings.home / "synthea" / self.version
        self.lib = self.root / "lib"

    def _java(self) -> str:
        return find_java(f"Synthea {self.version} needs Java 17 or newer", error=SyntheaError)

    def _mvn(self) -> str:
        return find_mvn("it downloads Synthea from Maven Central", error=SyntheaError)

    @property
    def provisioned(self) -> bool:
        return (self.lib / ".complete").exists()

    def provision(self) -> None:
        """Download the Synthea jars through Maven (once; later calls return at once)."""
        if self.provisioned:
            return
        self._java()
        maven_provision(self.root, _POM.format(version=self.version), mvn=self._mvn(), done=lambda: self.provisioned,
                        marker="synthea-*.jar", what=f"org.mitre.synthea:synthea:{self.version}", stamp=self.version,
                        error=SyntheaError)

    def generate(self, patients: int, seed: int, output: Path, state: str = "Massachusetts",
                 heap: str = "1g", timeout: float | None = None) -> Cohort:
        """Generate ``patients`` living patients into ``output`` (CSV only; provisions on first use).

        Raises:
            ConfigError: bad arguments, or ``output`` already holds a cohort.
            SyntheaError: Java/Maven missing, download failed, or Synthea exited non-zero.
        """
        if patients < 1:
            raise ConfigError(f"--patients must be >= 1, got {patients}")
        output = Path(output).resolve()
        if (output / "patients.csv").exists():
            raise ConfigError(f"{output} already holds a Synthea export (patients.csv); choose an empty folder")
        java = self._java()
        self.provision()
        work = output / ".synthea-run"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        cmd = [java, f"-Xmx{heap}", "-cp", str(self.lib / "*"), "App",
               "-p", str(patients), "-s", str(seed), "-cs", str(seed),
               "--exporter.csv.export=true", "--exporter.fhir.export=false",
               "--exporter.fhir_stu3.export=false", "--exporter.fhir_dstu2.export=false",
               "--exporter.hospital.fhir.export=false", "--exporter.practitioner.fhir.export=false",
               "--exporter.metadata.export=false", "--generate.log_patients.detail=none",
               f"--exporter.csv.excluded_files={','.join(_UNUSED_FILES)}",
               f"--exporter.baseDirectory={work}", state]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout, cwd=work)
        except subprocess.TimeoutExpired as e:
            raise SyntheaError(f"Synthea did not finish {patients} patients within {timeout} s") from e
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise SyntheaError(f"Synthea exited {proc.returncode} for state {state!r}:\n{tail}")
        csv_dir = work / "csv"
        if not (csv_dir / "patients.csv").exists():
            raise SyntheaError(f"Synthea finished but wrote no {csv_dir / 'patients.csv'}")
        for f in csv_dir.iterdir():
            shutil.move(str(f), output / f.name)
        shutil.rmtree(work, ignore_errors=True)
        return Cohort(output, patients, seed, state, self.version)
