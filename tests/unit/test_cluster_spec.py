"""``--cluster`` specs: local:N or tcp://HOST:PORT, anything else a clear error."""

from __future__ import annotations

import pytest

from graph_engine.errors import ConfigError
from ingest.text.distributed import check_cluster_spec


@pytest.mark.parametrize("spec", ["local:1", "local:16", "tcp://127.0.0.1:8786", "tcp://scheduler.internal:8786"])
def test_good_specs_pass(spec):
    assert check_cluster_spec(spec) == spec


@pytest.mark.parametrize("spec", ["local:0", "local:", "local:two", "local", "tcp://host", "http://h:1", "tcp://h:p", ""])
def test_bad_specs_name_the_forms(spec):
    with pytest.raises(ConfigError, match=r"local:N .* tcp://HOST:PORT"):
        check_cluster_spec(spec)
