"""Model builders of mer-keras (papers 000, 001, 002 and 004 and their baselines), weight transfer and freezing.

Attributes are imported lazily (PEP 562) so ``mer_keras.models.commands`` and the CLI start without
TensorFlow; ``from mer_keras.models import build`` imports Keras on first use.
"""
from ..lazy import lazy_exports

_EXPORTS = {
    "build": ".registry", "list_models": ".registry", "MODELS": ".registry", "models_table": ".registry",
    "ShuffleNetV2": ".shufflenet_v2", "MobileViT": ".mobilevit",
    "MobileNetV2": ".baselines", "ResNet18": ".baselines", "ResNet50": ".baselines", "ViTTiny": ".baselines",
    "DeiT": ".baselines", "LAMResNet": ".lam_resnet", "CropNet": ".cropnet",
    "MultiScaleResNet3D": ".msresnet3d", "choose_output": ".msresnet3d", "score_outputs": ".msresnet3d",
    "load_pretrained": ".weights", "LoadReport": ".weights",
    "embedding_model": ".embedding",
    "freeze_backbone": ".freezing", "GradualUnfreezing": ".freezing", "unfreeze_schedule": ".freezing",
    "backbone_groups": ".freezing",
    "count_flops": ".flops", "count_params": ".flops",
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
