"""Reusable blocks of the mer-keras builders: registered weight-free layers, CBAM, and block functions
that name every Keras layer from the block's name (so weights load by name and models round-trip)."""
from .cbam import CBAM
from .channel_shuffle import ChannelShuffle, ChannelSplit
from .conv import activation_layer, conv_bn_act
from .ghost_vit import (
    SharedQKVAttention,
    ghost_module,
    ghost_transformer_layer,
    ghost_vit_block,
)
from .mobilevit_block import inverted_residual, mobilevit_block
from .patches import PatchFold, PatchUnfold
from .transformer import transformer_encoder

__all__ = [
    "CBAM", "ChannelShuffle", "ChannelSplit", "PatchFold", "PatchUnfold", "SharedQKVAttention",
    "activation_layer", "conv_bn_act", "ghost_module", "ghost_transformer_layer", "ghost_vit_block",
    "inverted_residual", "mobilevit_block", "transformer_encoder",
]
