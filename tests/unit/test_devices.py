"""The one device resolver, used by scoring, embeddings and the models."""

from __future__ import annotations

import pytest

from graph_engine.devices import check_device_name, cuda_available, resolve_device_name, torch_device
from graph_engine.errors import ModelError, ScoringError

pytestmark = pytest.mark.unit


def test_auto_cpu_and_cuda():
    assert resolve_device_name("auto") == ("cuda" if cuda_available() else "cpu")
    assert torch_device("cpu").type == "cpu"
    if cuda_available():
        assert torch_device("cuda:0").type == "cuda"
    else:
        with pytest.raises(ModelError, match="CUDA is not available; use device='cpu' or 'auto'"):
            torch_device("cuda")
        with pytest.raises(ScoringError, match="CUDA is not available"):
            resolve_device_name("cuda:1", ScoringError)


@pytest.mark.parametrize("bad", ["gpu", "tpu", "", "CUDA"])
def test_unknown_names_are_refused(bad):
    with pytest.raises(ModelError, match="device must be 'auto', 'cpu' or 'cuda\\[:N\\]'"):
        check_device_name(bad)


def test_every_resolver_is_this_one():
    """Scoring, embeddings and the image model resolve devices through graph_engine.devices only."""
    import inspect

    import graph_engine.embeddings.train as emb
    import graph_engine.scoring._common as scoring
    import models.image as image

    for mod in (emb, scoring, image):
        src = inspect.getsource(mod)
        assert "torch.cuda.is_available()" not in src, mod.__name__
