"""Batch-1 inference latency of every registered builder, as a ratio to keras.applications MobileNetV2.

The shape of paper 000's Table 4 (ms per sample; ResNet50, DeiT, MobileNetV2, ShuffleNetV2 + CBAM,
ShuffleNetV2 + ViT) and paper 004's 35.4 ms for MobileViT-S. Absolute times depend on the machine,
so each model is also given relative to keras.applications MobileNetV2 measured in the same run,
beside the same ratio computed from the published times.

Each model runs inside one ``tf.function`` (``model.predict`` adds 40-90 ms per call here); the
median of ``--repeats`` timed calls after ``--warmup`` calls is reported.

    python benchmarks/bench_latency.py [--repeats 30] [--models shufflenet_v2_cbam mobilevit_s ...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# ms per sample as published: paper 000 Table 4 (Sci. Rep. 12:17522) and paper 004's abstract
PUBLISHED_MS = {
    "keras_mobilenet_v2": 24.0, "mobilenet_v2": 24.0, "resnet50": 105.9, "vit_tiny": 168.0,
    "shufflenet_v2_cbam": 28.5, "shufflenet_v2_ghost_vit": 37.9, "mobilevit_s": 35.4,
}


def time_batch1(model, repeats, warmup):
    """Median and min milliseconds of one batch-1 forward pass inside a tf.function."""
    import numpy as np
    import tensorflow as tf

    shape = (1,) + tuple(model.input_shape[1:])
    x = tf.constant(np.random.default_rng(0).random(shape, dtype="float32"))
    forward = tf.function(lambda inputs: model(inputs, training=False))
    for _ in range(warmup):
        forward(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(x).numpy()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--models", nargs="*", help="registered names (default: all)")
    args = parser.parse_args(argv)

    import keras

    from mer_keras.models import count_params, list_models
    from mer_keras.models.registry import MODELS, build

    names = args.models or list_models()
    reference = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None)
    ref_ms, ref_min = time_batch1(reference, args.repeats, args.warmup)
    rows = [("keras_mobilenet_v2", "224x224x3", count_params(reference), ref_ms, ref_min)]
    for name in names:
        model = build(name, classes=3)
        median, fastest = time_batch1(model, args.repeats, args.warmup)
        rows.append((name, "x".join(map(str, MODELS[name].input_shape)), count_params(model), median, fastest))
        del model
        keras.backend.clear_session()

    pub_ref = PUBLISHED_MS["keras_mobilenet_v2"]
    print(f"batch-1 inference, median of {args.repeats} calls after {args.warmup} warm-up, tf.function, "
          f"{os.cpu_count()} CPU(s), TensorFlow {__import__('tensorflow').__version__}")
    print("| model | input | params | median ms | min ms | ratio to keras MobileNetV2 | published ms | "
          "published ratio |\n|---|---|---|---|---|---|---|---|")
    for name, shape, params, median, fastest in rows:
        published = PUBLISHED_MS.get(name)
        pub = f"{published:g} | {published / pub_ref:.2f}" if published else "- | -"
        print(f"| {name} | {shape} | {params:,} | {median:.1f} | {fastest:.1f} | {median / ref_ms:.2f} | {pub} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
