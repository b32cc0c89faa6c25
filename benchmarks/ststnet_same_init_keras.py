"""The Keras half of a step-by-step port check of ``liong2019_ststnet``: one LOSO fold from saved initial weights.

Builds the package's STSTNet with dropout off (the one random draw left in training), trains it with the
package's ``train_classifier`` on the release's settings (Adam lr 5e-5, epsilon 1e-8, batches of 256 grouped by
class, short last batch) for one held-out subject, and writes to ``--out``: the initial weights, the fold's
arrays, the loss per epoch and the held-out clips' probabilities. ``ststnet_pytorch_crosscheck.py --same-init
OUT`` then trains PyTorch's STSTNet from the same weights on the same batches and prints both curves and the
largest probability difference: equal curves mean the port computes what the release computes, step for step.

    .venv/bin/python benchmarks/ststnet_same_init_keras.py --manifest realdev.csv --subject casme2/sub17 --out same_init
    torchenv/bin/python benchmarks/ststnet_pytorch_crosscheck.py --same-init same_init
"""
from __future__ import annotations

import argparse
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from mer_keras.models import build
from mer_keras.preprocessing.precomputed import read_input
from mer_keras.training.fit import train_classifier

REPORTED_EPOCHS = (1, 10, 100, 400, 800)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", required=True, help="a precomputed manifest with an input_flow column")
    p.add_argument("--subject", default="casme2/sub17", help="the held-out subject")
    p.add_argument("--epochs", type=int, default=800)
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    manifest = pd.read_csv(args.manifest)
    x = np.stack([read_input(path, "flow", 28)[0] for path in manifest["input_flow"]])
    y = manifest["label"].to_numpy()
    test = (manifest["subject"].astype(str) == args.subject).to_numpy()
    if not test.any():
        raise SystemExit(f"no clip of subject {args.subject!r} in {args.manifest}")
    keras.utils.set_random_seed(args.seed)
    net = build("ststnet", input_shape=(28, 28, 3), classes=3, include_top=True, classifier_activation="softmax",
                dropout=0.0)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "init.npz", **{w.path.replace("/", "__"): keras.ops.convert_to_numpy(w) for w in net.weights})
    np.savez(args.out / "fold.npz", x=x, y=y, test=test)
    history = train_classifier(net, x[~test], y[~test], num_classes=3, epochs=args.epochs, batch_size=256,
                               optimizer="adam", learning_rate=5e-5, balanced=False, order="by_class",
                               last_batch="partial", epsilon=1e-8)
    probabilities = net.predict(x[test], verbose=0)
    np.savez(args.out / "keras.npz", loss=np.array(history["loss"]), probabilities=probabilities)
    print("keras loss at epochs", {e: round(history["loss"][e - 1], 4) for e in REPORTED_EPOCHS if e <= args.epochs})
    print("keras predictions", probabilities.argmax(1).tolist())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
