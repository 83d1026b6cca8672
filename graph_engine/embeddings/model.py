r"""Heterogeneous GraphSAGE encoder with a DistMult link decoder.

Each node type has a learnable input embedding :math:`x_v`. Layer :math:`l`
updates a node of type :math:`t` by summing one GraphSAGE message per
relation that ends in :math:`t` and averaging them over those relations
(PyG's ``HeteroConv``, equivalent to ``to_hetero(SAGE, aggr="mean")``):

.. math::

    h_v^{(l+1)} = \sigma\Big( \operatorname{mean}_{r:\,\cdot \to t} \big( W_{r,1} h_v^{(l)}
        + W_{r,2} \operatorname{mean}_{u \in N_r(v)} h_u^{(l)} \big) \Big)

and a triple :math:`(s, r, d)` scores :math:`\langle z_s, w_r, z_d \rangle`.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, SAGEConv
from torch_geometric.utils import trim_to_layer

EdgeType = tuple[str, str, str]


def _key(edge_type: EdgeType) -> str:
    return "__".join(edge_type)


class HeteroSAGE(nn.Module):
    """Encoder: per-type input embeddings, ``num_layers`` heterogeneous SAGE layers.

    Args:
        num_nodes: node type -> number of nodes (rows of its input embedding).
        edge_types: message-passing edge types.
        dim: width of input embeddings, hidden layers and output.
        num_layers: message-passing layers (= sampling hops).
        dropout: dropout between layers.
        rel_aggr: how the per-relation messages of a node combine: ``"mean"``
            (default: keeps the scale independent of how many relationship types
            a label has, which matters on Hetionet's 24) or ``"sum"``.

    Shapes:
        forward(n_id_dict, edge_index_dict) -> ``{type: (n_type, dim)}``.
    """

    def __init__(self, num_nodes: dict[str, int], edge_types: list[EdgeType], dim: int = 64,
                 num_layers: int = 2, dropout: float = 0.0, rel_aggr: str = "mean") -> None:
        super().__init__()
        self.node_types = list(num_nodes)
        self.emb = nn.ModuleDict({t: nn.Embedding(max(1, n), dim) for t, n in num_nodes.items()})
        for e in self.emb.values():
            nn.init.normal_(cast(nn.Embedding, e).weight, std=0.1)
        self.convs = nn.ModuleList(
            HeteroConv({et: SAGEConv((dim, dim), dim) for et in edge_types}, aggr=rel_aggr)
            for _ in range(num_layers)
        )
        self.dropout = dropout

    def forward(self, n_id_dict: dict[str, Tensor], edge_index_dict: dict[Any, Tensor],
                num_sampled_nodes: dict[str, list[int]] | None = None,
                num_sampled_edges: dict[Any, list[int]] | None = None) -> dict[str, Tensor]:
        """Embed the nodes of a (sampled) graph.

        With the per-hop counts of a neighbour-sampled batch, layer ``i`` drops
        the ``i`` outermost hops (PyG's ``trim_to_layer``): outputs are then exact
        for the seed nodes only, which is all a mini-batch needs, at a fraction
        of the cost.
        """
        x = {t: self.emb[t](n_id) for t, n_id in n_id_dict.items()}
        edge_index_dict = dict(edge_index_dict)
        for i, conv in enumerate(self.convs):
            if num_sampled_nodes is not None and num_sampled_edges is not None:
                x, edge_index_dict, _ = trim_to_layer(i, num_sampled_nodes, num_sampled_edges, x, edge_index_dict)
            out = conv(x, edge_index_dict)
            last = i == len(self.convs) - 1
            for t in x:
                h = out.get(t)
                if h is None:  # a type that receives no messages keeps its state
                    continue
                if not last:
                    h = torch.relu(h)
                    h = nn.functional.dropout(h, self.dropout, self.training)
                x[t] = h
        return x


    @torch.no_grad()
    def embed_layerwise(self, num_nodes: dict[str, int], edge_index_dict: dict[Any, Tensor],
                        device: torch.device | str = "cpu", chunk_size: int = 65536) -> dict[str, Tensor]:
        """Exact embeddings of every node, one layer at a time, in chunks of target nodes.

        Equivalent to ``forward`` on the whole graph, but only one chunk of
        ``chunk_size`` target nodes, their in-edges and their sources' states
        are on ``device`` at once; every layer's full output stays on the CPU. So
        the final pass scales like training, not like the whole graph.

        Shapes:
            edge_index_dict: ``{(s, r, d): (2, E)}`` on the CPU;
            returns ``{type: (num_nodes[type], dim)}`` on the CPU.
        """
        from torch_geometric.nn.conv.hetero_conv import group

        was_training = self.training
        self.eval()
        x = {t: cast(nn.Embedding, self.emb[t]).weight[:n].detach().cpu() for t, n in num_nodes.items()}
        by_dst = {}
        for et, ei in edge_index_dict.items():  # CSC per edge type: in-edges of a node range are a slice
            order = torch.argsort(ei[1], stable=True)
            src, dst = ei[0][order], ei[1][order]
            ptr = torch.zeros(num_nodes[et[2]] + 1, dtype=torch.long)
            ptr[1:] = torch.cumsum(torch.bincount(dst, minlength=num_nodes[et[2]]), 0)
            by_dst[et] = (ptr, src, dst)
        for i, layer in enumerate(self.convs):
            conv = cast(HeteroConv, layer)
            last = i == len(self.convs) - 1
            new = {}
            for t, n in num_nodes.items():
                ets = [et for et in conv.convs.keys() if et[2] == t and et in by_dst]
                if not ets:
                    new[t] = x[t]
                    continue
                out = torch.empty(n, x[t].shape[1])
                for a in range(0, n, chunk_size):
                    b = min(n, a + chunk_size)
                    xd = x[t][a:b].to(device)
                    parts = []
                    for et in ets:
                        ptr, src, dst = by_dst[et]
                        s_idx, d_idx = src[ptr[a]:ptr[b]], dst[ptr[a]:ptr[b]] - a
                        uniq, inv = torch.unique(s_idx, return_inverse=True)
                        ei = torch.stack([inv, d_idx]).to(device)
                        parts.append(conv.convs[et]((x[et[0]][uniq].to(device), xd), ei))
                    h = group(parts, conv.aggr)
                    out[a:b] = (h if last else torch.relu(h)).cpu()
                new[t] = out
            x = new
        self.train(was_training)
        return x


class DistMult(nn.Module):
    """Link decoder: ``score(s, r, d) = sum(z_s * w_r * z_d)``.

    Shapes:
        forward(z_src ``(B, dim)``, z_dst ``(B, dim)``, edge_type) -> ``(B,)`` logits.
    """

    def __init__(self, edge_types: list[EdgeType], dim: int) -> None:
        super().__init__()
        self.rel = nn.ParameterDict({_key(et): nn.Parameter(torch.ones(dim)) for et in edge_types})

    def forward(self, z_src: Tensor, z_dst: Tensor, edge_type: EdgeType) -> Tensor:
        return (z_src * self.rel[_key(edge_type)] * z_dst).sum(-1)


class LinkModel(nn.Module):
    """Encoder + decoder, the unit that is trained, saved and loaded."""

    def __init__(self, num_nodes: dict[str, int], mp_edge_types: list[EdgeType],
                 target_edge_types: list[EdgeType], dim: int, num_layers: int, dropout: float,
                 rel_aggr: str = "mean") -> None:
        super().__init__()
        self.encoder = HeteroSAGE(num_nodes, mp_edge_types, dim, num_layers, dropout, rel_aggr)
        self.decoder = DistMult(target_edge_types, dim)
