"""Reusable blocks of the mer-keras builders: registered weight-free layers, CBAM, and block functions
that name every Keras layer from the block's name (so weights load by name and models round-trip)."""
from ...lazy import lazy_exports

_EXPORTS = {
    "CBAM": ".cbam", "ChannelShuffle": ".channel_shuffle", "ChannelSplit": ".channel_shuffle",
    "activation_layer": ".conv", "conv_bn_act": ".conv", "SharedQKVAttention": ".ghost_vit",
    "ghost_module": ".ghost_vit", "ghost_transformer_layer": ".ghost_vit", "ghost_vit_block": ".ghost_vit",
    "inverted_residual": ".mobilevit_block", "mobilevit_block": ".mobilevit_block", "PatchFold": ".patches",
    "PatchUnfold": ".patches", "basic_block": ".resnet_block", "transformer_encoder": ".transformer",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

