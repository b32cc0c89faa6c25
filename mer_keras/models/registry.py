"""``build(name, **kwargs)``: one place that knows every builder, its paper role and its default input."""
from __future__ import annotations

import dataclasses
import functools

from .flops import count_flops, count_params


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A registered builder: the callable, fixed keyword arguments, the paper's input size, a note."""

    builder: str
    defaults: dict
    input_shape: tuple
    description: str

    def resolve(self):
        from . import (
            baselines,
            cropnet,
            lam_resnet,
            mobilevit,
            msresnet3d,
            reference_nets,
            shufflenet_v2,
        )

        module_name, attr = self.builder.split(".")
        module = {"baselines": baselines, "cropnet": cropnet, "lam_resnet": lam_resnet, "mobilevit": mobilevit,
                  "msresnet3d": msresnet3d, "reference_nets": reference_nets,
                  "shufflenet_v2": shufflenet_v2}[module_name]
        return getattr(module, attr)


MODELS = {
    # paper 000's ablation: one backbone width (shufflenet_v2.ABLATION_SCALE = 1.0) for all three variants
    "shufflenet_v2": ModelSpec("shufflenet_v2.ShuffleNetV2", {"scale": 1.0}, (224, 224, 3),
                               "ShuffleNetV2 1.0x (paper 000 baseline)"),
    "shufflenet_v2_cbam": ModelSpec("shufflenet_v2.ShuffleNetV2", {"scale": 1.0, "attention": "cbam"},
                                    (224, 224, 3), "ShuffleNetV2 1.0x + CBAM after conv5 (paper 000)"),
    "shufflenet_v2_ghost_vit": ModelSpec("shufflenet_v2.ShuffleNetV2", {"scale": 1.0, "attention": "ghost_vit"},
                                         (224, 224, 3), "ShuffleNetV2 1.0x + Ghost-ViT after stage 2 (paper 000)"),
    "mobilevit_xxs": ModelSpec("mobilevit.MobileViT", {"variant": "xxs"}, (256, 256, 3), "MobileViT-XXS"),
    "mobilevit_xs": ModelSpec("mobilevit.MobileViT", {"variant": "xs"}, (256, 256, 3), "MobileViT-XS"),
    "mobilevit_s": ModelSpec("mobilevit.MobileViT", {"variant": "s"}, (256, 256, 3), "MobileViT-S (paper 004)"),
    "mobilenet_v2": ModelSpec("baselines.MobileNetV2", {}, (224, 224, 3), "keras.applications MobileNetV2"),
    "resnet18": ModelSpec("baselines.ResNet18", {}, (224, 224, 3), "ResNet18 (torchvision layout)"),
    "resnet50": ModelSpec("baselines.ResNet50", {}, (224, 224, 3), "keras.applications ResNet50"),
    "vit_tiny": ModelSpec("baselines.ViTTiny", {}, (224, 224, 3), "DeiT-tiny-sized ViT (GAP head)"),
    "deit_base": ModelSpec("baselines.DeiT", {"variant": "base"}, (224, 224, 3),
                           "DeiT-B/16-sized ViT, GAP head (paper 000's DeiT: > 10 G multiply-adds)"),
    # paper 002 (abstract only; LAM's set-up is ours, see lam_resnet): "resnet18" is the bare comparison,
    # with the same layer names
    "lam_resnet18": ModelSpec("lam_resnet.LAMResNet", {"depth": 18}, (224, 224, 3),
                              "ResNet18 + LAM in every block of the 4 stages (paper 002)"),
    "lam_resnet18_stage4": ModelSpec("lam_resnet.LAMResNet", {"depth": 18, "lam_stages": (4,)}, (224, 224, 3),
                                     "ResNet18 + LAM at one scale, stage 4 (our pick; paper 002 ablation)"),
    "lam_resnet34": ModelSpec("lam_resnet.LAMResNet", {"depth": 34}, (224, 224, 3),
                              "ResNet34 + LAM in every block of the 4 stages (paper 002)"),
    # paper 003: ten CGPO crops of 160 through one ReXNet-1.3x (choices in cropnet's docstring)
    "cropnet": ModelSpec("cropnet.CropNet", {}, (320, 320, 3),
                         "CGPO (10 crops) + shared ReXNet-1.3x + position embeddings (paper 003)"),
    "rexnet": ModelSpec("cropnet.CropNet", {"cgpo": False}, (320, 320, 3),
                        "ReXNet-1.3x on the whole image: paper 003's ablation without CGPO"),
    # paper 001: 16 flow frames (u, v) of 134 x 134; ResNet-34 layout (the text's "ResNet50", see msresnet3d)
    "msresnet3d": ModelSpec("msresnet3d.MultiScaleResNet3D", {}, (16, 134, 134, 2),
                            "3D ResNet-34 layout + ST attention, RC1-3, AFFA, 4 outputs (paper 001)"),
    # the MEGC 2019 comparison table's reference systems (issue 26): 28x28 (u, v, strain) flow images
    "ststnet": ModelSpec("reference_nets.STSTNet", {}, (28, 28, 3),
                         "STSTNet, 3 conv branches on u, v, strain (Liong et al. 2019; reference system)"),
    "off_apexnet": ModelSpec("reference_nets.OFFApexNet", {}, (28, 28, 3),
                             "OFF-ApexNet, two streams on u and v (Gan et al. 2019; reference system)"),
    "lbp_top": ModelSpec("reference_nets.LBPTOPFeatures", {}, (10, 64, 64, 1),
                         "LBP-TOP histograms, 5x5 blocks, radii 1,1,4, P = 4 (MEGC 2019 baseline; no training)"),
}


def list_models():
    """Registered model names, in table order."""
    return list(MODELS)


def build(name, **kwargs):
    """Build the registered model ``name``; ``kwargs`` override its defaults (any builder argument)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    spec = MODELS[name]
    arguments = {"input_shape": spec.input_shape, **spec.defaults, **kwargs}
    return spec.resolve()(**arguments)


@functools.cache
def describe(name, classes=3, with_flops=True):
    """(trainable params, FLOPs or None, input shape) of ``name`` at its default input and ``classes``."""
    model = build(name, classes=classes)
    return count_params(model), (count_flops(model) if with_flops else None), MODELS[name].input_shape


def models_table(names=None, classes=3, with_flops=True):
    """A plain-text table: name, input, trainable parameters, GFLOPs, description."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    rows = [f"{'model':<24} {'input':<13} {'params':>12} {'GFLOPs':>8}  description"]
    for name in names or list_models():
        params, flops, shape = describe(name, classes, with_flops)
        gflops = f"{flops / 1e9:8.3f}" if flops is not None else f"{'-':>8}"
        rows.append(f"{name:<24} {'x'.join(map(str, shape)):<13} {params:>12,} {gflops}  {MODELS[name].description}")
    rows.append(f"(trainable parameters with a {classes}-class head; FLOPs = 2 x multiply-adds at batch 1)")
    return "\n".join(rows)
