"""`TreediffConfig`: the one config of the denoiser (a ``transformers`` config, ``model_type="treediff"``).

Field names follow nanoGPT/litgpt (``d_model``, ``n_layers``, ...); ``attribute_map`` exposes the
``transformers`` standard names (``hidden_size``, ``num_hidden_layers``, ...) as aliases, so generic
tooling (``AutoModel``, accelerate, PEFT) reads them too.

>>> cfg = TreediffConfig.from_preset("tiny", vocab_size=512)
>>> (cfg.d_model, cfg.n_layers, cfg.hidden_size)
(64, 2, 64)
>>> TreediffConfig.from_preset("tiny", vocab_size=512, n_heads=5)
Traceback (most recent call last):
...
treediff.errors.ConfigError: d_model (64) must be divisible by n_heads (5)
"""

from __future__ import annotations

import math
from typing import Any

from transformers import PretrainedConfig

from treediff.errors import ConfigError
from treediff.registry import normalize_name
from treediff.syntax.cfg_flow import FLOW_LABELS
from treediff.syntax.language import CATEGORIES

__all__ = ["TreediffConfig", "PRESETS", "NUM_NODE_TYPES", "NUM_EDGE_TYPES", "STRUCTURE_EDGES", "edge_type_count"]

#: Node types of the structure encoder: 0 = no category, 1 + i = ``CATEGORIES[i]``.
NUM_NODE_TYPES = len(CATEGORIES) + 1
#: AST edge types built by :func:`treediff.model.structure.structure_from_batch`
#: (child→parent, parent→child, next sibling, previous sibling); CFG edges may use ids above these.
NUM_EDGE_TYPES = 4
#: What the structure encoder's graph is built from (``structure.py``): ``spans`` = the AST of the
#: batch's clean spans, fully masked nodes dropped (the original encoder; old checkpoints); ``ast`` =
#: the AST of the visible program (masked runs parsed as a placeholder); ``ast+cfg`` = that plus
#: the CFG's labelled statement edges and, for Python, the dataflow edges.
STRUCTURE_EDGES = ("spans", "ast", "ast+cfg")


def edge_type_count(structure_edges: str) -> int:
    """Edge types a graph of this kind uses: the 4 AST ones, plus ``FLOW_LABELS`` for ``ast+cfg``."""
    return NUM_EDGE_TYPES + (len(FLOW_LABELS) if structure_edges == "ast+cfg" else 0)

# Sizes are named by their *non-embedding* parameter count (Kaplan et al.); the total adds
# ``vocab_size * d_model`` (once, embeddings are tied by default). Heads are 64 wide so the
# flash / memory-efficient SDPA kernels apply; ``d_ff`` ≈ 8/3·d_model rounded to a multiple of 64.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(d_model=64, n_layers=2, n_heads=4, d_ff=192, max_position=512, gnn_hidden=32, gnn_heads=2),
    "small": dict(d_model=384, n_layers=6, n_heads=6, d_ff=1024, max_position=2048, gnn_hidden=128, gnn_heads=4),
    "base50m": dict(d_model=512, n_layers=16, n_heads=8, d_ff=1344, max_position=2048, gnn_hidden=256, gnn_heads=4),
    "base100m": dict(d_model=768, n_layers=14, n_heads=12, d_ff=2048, max_position=2048, gnn_hidden=256, gnn_heads=4),
}

_ACTIVATIONS = ("swiglu",)
_NORMS = ("rmsnorm",)


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ConfigError(f"{name} must be an integer {rng}, got {value!r}")


def _check_float(name: str, value: Any, lo: float, hi: float, hi_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and lo <= value and (value < hi if hi_open else value <= hi)
    if not ok:
        raise ConfigError(f"{name} must be a number in [{lo}, {hi}{')' if hi_open else ']'}, got {value!r}")


class TreediffConfig(PretrainedConfig):
    """Bidirectional transformer denoiser (RoPE, RMSNorm, SwiGLU) with an optional AST GNN encoder.

    Backbone: ``vocab_size``, ``d_model``, ``n_layers``, ``n_heads``, ``d_ff`` (SwiGLU hidden width),
    ``max_position`` (longest sequence; RoPE needs no table, this bounds the input), ``rope_theta``,
    ``dropout`` (attention + residual), ``norm`` (``"rmsnorm"``), ``norm_eps``, ``activation``
    (``"swiglu"``), ``tie_embeddings``, ``initializer_range``, ``mask_token_id``, ``pad_token_id``.

    Structure encoder (see ``structure.py``): ``use_structure_encoder``; ``gnn_layers``,
    ``gnn_hidden``, ``gnn_heads`` (GATv2), ``num_node_types``, ``num_edge_types``.
    """

    model_type = "treediff"
    attribute_map = {
        "hidden_size": "d_model",
        "num_hidden_layers": "n_layers",
        "num_attention_heads": "n_heads",
        "intermediate_size": "d_ff",
        "max_position_embeddings": "max_position",
    }

    def __init__(
        self,
        vocab_size: int = 512,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        d_ff: int = 192,
        max_position: int = 512,
        rope_theta: float = 10000.0,
        dropout: float = 0.0,
        norm: str = "rmsnorm",
        norm_eps: float = 1e-6,
        activation: str = "swiglu",
        tie_embeddings: bool = True,
        initializer_range: float = 0.02,
        mask_token_id: int = 0,
        pad_token_id: int | None = 1,
        use_structure_encoder: bool = False,
        gnn_layers: int = 2,
        gnn_hidden: int = 32,
        gnn_heads: int = 2,
        num_node_types: int = NUM_NODE_TYPES,
        num_edge_types: int | None = None,
        structure_edges: str = "spans",
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.d_ff = d_ff
        self.max_position = max_position
        self.rope_theta = rope_theta
        self.dropout = dropout
        self.norm = norm
        self.norm_eps = norm_eps
        self.activation = activation
        self.tie_embeddings = tie_embeddings
        self.initializer_range = initializer_range
        self.mask_token_id = mask_token_id
        self.use_structure_encoder = use_structure_encoder
        self.gnn_layers = gnn_layers
        self.gnn_hidden = gnn_hidden
        self.gnn_heads = gnn_heads
        self.num_node_types = num_node_types
        self.structure_edges = structure_edges
        self.num_edge_types = edge_type_count(structure_edges) if num_edge_types is None else num_edge_types
        # The lm head shares the embedding tensor inside the model itself (no lm_head parameter
        # when tied), so transformers' own tying machinery must stay off.
        kwargs["tie_word_embeddings"] = False
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.pad_token_id = pad_token_id
        self.validate()

    def validate(self) -> "TreediffConfig":
        """Check every field; raise :class:`ConfigError` naming the field and its allowed range."""
        _check_int("vocab_size", self.vocab_size, 2)
        _check_int("d_model", self.d_model, 8)
        _check_int("n_layers", self.n_layers, 1, 512)
        _check_int("n_heads", self.n_heads, 1)
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if (self.d_model // self.n_heads) % 2:
            raise ConfigError(f"head size d_model/n_heads = {self.d_model // self.n_heads} must be even for RoPE")
        _check_int("d_ff", self.d_ff, 1)
        _check_int("max_position", self.max_position, 1)
        _check_float("rope_theta", self.rope_theta, 1.0, 1e9)
        _check_float("dropout", self.dropout, 0.0, 1.0, hi_open=True)
        _check_float("norm_eps", self.norm_eps, 0.0, 1.0)
        _check_float("initializer_range", self.initializer_range, 0.0, 1.0)
        if normalize_name(str(self.norm)) not in _NORMS:
            raise ConfigError(f"norm must be one of {', '.join(_NORMS)}, got {self.norm!r}")
        if normalize_name(str(self.activation)) not in _ACTIVATIONS:
            raise ConfigError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got {self.activation!r}")
        for name in ("tie_embeddings", "use_structure_encoder"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        _check_int("mask_token_id", self.mask_token_id, 0, self.vocab_size - 1)
        if self.pad_token_id is not None:
            _check_int("pad_token_id", self.pad_token_id, 0, self.vocab_size - 1)
        _check_int("gnn_layers", self.gnn_layers, 1, 16)
        _check_int("gnn_heads", self.gnn_heads, 1)
        _check_int("gnn_hidden", self.gnn_hidden, 1)
        if self.gnn_hidden % self.gnn_heads:
            raise ConfigError(f"gnn_hidden ({self.gnn_hidden}) must be divisible by gnn_heads ({self.gnn_heads})")
        _check_int("num_node_types", self.num_node_types, 1)
        if self.structure_edges not in STRUCTURE_EDGES:
            raise ConfigError(f"structure_edges must be one of {', '.join(STRUCTURE_EDGES)}, got {self.structure_edges!r}")
        _check_int("num_edge_types", self.num_edge_types, edge_type_count(self.structure_edges))
        return self

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @classmethod
    def from_preset(cls, name: str, vocab_size: int, **overrides: Any) -> "TreediffConfig":
        """A named size (``tiny``, ``small``, ``base50m``, ``base100m``) with ``overrides`` applied."""
        key = normalize_name(name)
        if key not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
        return cls(vocab_size=vocab_size, **{**PRESETS[key], **overrides})
