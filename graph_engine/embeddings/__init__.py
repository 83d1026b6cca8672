"""GNN node embeddings (PyTorch Geometric) trained by link prediction.

``to_hetero_data`` exports a :class:`~graph_engine.export.GraphTables` to
``HeteroData``; ``train_embeddings`` trains a heterogeneous GraphSAGE encoder
with negative sampling on neighbour-sampled mini-batches and returns an
:class:`EmbeddingResult` whose ``save``/``load`` handle a versioned artifact.
"""

from graph_engine.embeddings.data import reverse_key, to_hetero_data
from graph_engine.embeddings.model import DistMult, HeteroSAGE, LinkModel
from graph_engine.embeddings.sampler import NumpyNeighborSampler, compiled_sampler_available
from graph_engine.embeddings.train import (
    ARTIFACT_FORMAT,
    EmbeddingConfig,
    EmbeddingResult,
    load_embeddings,
    split_edges,
    train_embeddings,
)

__all__ = [
    "ARTIFACT_FORMAT",
    "DistMult",
    "EmbeddingConfig",
    "EmbeddingResult",
    "HeteroSAGE",
    "LinkModel",
    "NumpyNeighborSampler",
    "compiled_sampler_available",
    "load_embeddings",
    "reverse_key",
    "split_edges",
    "to_hetero_data",
    "train_embeddings",
]
