"""STSTNet in PyTorch with its authors' release settings, LOSO on a precomputed flow manifest: a framework check.

``liong2019_ststnet`` is a Keras port of a PyTorch release. This script trains the same network in PyTorch itself
(written here from the paper's Table I: three 3x3 conv streams of 3, 5 and 8 filters with padding 2, each ReLU ->
BatchNorm -> 3x3 max-pool stride 3 padding 1 -> dropout 0.5, concatenated, 2x2 average pool, dense to 3 classes;
PyTorch's own layer defaults) with the release's settings: Adam lr 5e-5, cross-entropy, batches of 256 of the
training clips grouped by class (label order, no shuffle, a short last batch), 800 epochs, the last epoch's model,
the 0-255 pixels as ``cv2.imread`` gives them (BGR, no normalisation). It writes ``subject,y_true,y_pred`` for

    mer-keras table RUN_OF_liong2019_ststnet --against OUT.csv

which sets the Keras run (and its same-fold floors) beside it, paired by subject. PyTorch is not a dependency
of mer-keras: run this in a separate environment (``python -m venv torchenv && torchenv/bin/pip install
torch==2.13.0 opencv-python-headless pandas``). One thread; about 60-80 s per fold on this 2-core machine.

    torchenv/bin/python benchmarks/ststnet_pytorch_crosscheck.py --manifest realdev.csv --seed 0 --out torch_s0.csv

``--same-init DIR`` instead trains one fold from the initial weights ``ststnet_same_init_keras.py`` saved in DIR
(dropout off, the same batches) and prints PyTorch's loss curve beside Keras' and the largest difference of the
held-out clips' probabilities.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn


class Stream(nn.Module):
    """One of STSTNet's three streams (Table I)."""

    def __init__(self, filters: int):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, filters, 3, padding=2), nn.BatchNorm2d(filters)
        self.pool, self.dropout = nn.MaxPool2d(3, 3, padding=1), nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.pool(self.bn(torch.relu(self.conv(x)))))


class STSTNet(nn.Module):
    def __init__(self, classes: int = 3):
        super().__init__()
        self.streams = nn.ModuleList([Stream(3), Stream(5), Stream(8)])
        self.pool, self.dense = nn.AvgPool2d(2, 2), nn.Linear(5 * 5 * 16, classes)

    def forward(self, x):
        return self.dense(self.pool(torch.cat([s(x) for s in self.streams], 1)).flatten(1))


REPORTED_EPOCHS = (1, 10, 100, 400, 800)


def train_fold(net, images, y, train, epochs: int, shuffled: bool = False) -> list[float]:
    """The release's training of one fold: Adam lr 5e-5, cross-entropy, batches of 256 of the training clips
    grouped by class (label order, manifest order inside; a short last batch) or reshuffled every epoch.
    Returns each epoch's mean loss."""
    labels = y.numpy()
    train = train[np.argsort(labels[train], kind="stable")]
    optimizer, loss_fn, losses = torch.optim.Adam(net.parameters(), lr=5e-5), nn.CrossEntropyLoss(), []
    net.train()
    for _ in range(epochs):
        order = train[torch.randperm(len(train)).numpy()] if shuffled else train
        total = 0.0
        for b in range(0, len(order), 256):
            batch = order[b:b + 256]
            optimizer.zero_grad()
            loss = loss_fn(net(images[batch]), y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(order))
    net.eval()
    return losses


def same_init(folder: Path) -> int:
    """One fold from Keras' initial weights (see the module docstring); Keras' layouts mapped to PyTorch's."""
    weights = dict(np.load(folder / "init.npz"))
    fold, keras_run = np.load(folder / "fold.npz"), np.load(folder / "keras.npz")
    x, labels, test = fold["x"], fold["y"], fold["test"]
    pixels = x * np.float32([127.5, 127.5, 255.0]) + np.float32([127.5, 127.5, 0.0])  # the network's to_pixels
    images, y = torch.tensor(pixels).permute(0, 3, 1, 2).contiguous(), torch.tensor(labels, dtype=torch.long)
    net = STSTNet()
    with torch.no_grad():
        for i, stream in enumerate(net.streams, 1):
            stream.dropout.p = 0.0
            stream.conv.weight.copy_(torch.tensor(weights[f"branch{i}_conv__kernel"]).permute(3, 2, 0, 1))
            stream.conv.bias.copy_(torch.tensor(weights[f"branch{i}_conv__bias"]))
        kernel = weights["predictions__kernel"].reshape(5, 5, 16, -1).transpose(2, 0, 1, 3).reshape(400, -1)
        net.dense.weight.copy_(torch.tensor(kernel.T))  # Keras flattens (h, w, c), PyTorch (c, h, w)
        net.dense.bias.copy_(torch.tensor(weights["predictions__bias"]))
    epochs = len(keras_run["loss"])
    losses = train_fold(net, images, y, np.flatnonzero(~test), epochs)
    with torch.no_grad():
        probabilities = torch.softmax(net(images[np.flatnonzero(test)]), 1).numpy()
    for name, curve in (("keras", keras_run["loss"]), ("torch", losses)):
        print(f"{name} loss at epochs", {e: round(float(curve[e - 1]), 4) for e in REPORTED_EPOCHS if e <= epochs})
    same = (probabilities.argmax(1) == keras_run["probabilities"].argmax(1)).sum()
    print(f"same predicted class on {same} of {len(probabilities)} held-out clips; largest probability difference "
          f"{np.abs(probabilities - keras_run['probabilities']).max():.4f}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", help="a precomputed manifest with an input_flow column")
    p.add_argument("--same-init", type=Path, metavar="DIR", help="one fold from ststnet_same_init_keras.py's DIR")
    p.add_argument("--seed", type=int, default=0, help="fold k starts from torch.manual_seed(1000 * seed + k)")
    p.add_argument("--batch-order", choices=("by_class", "shuffled"), default="by_class")
    p.add_argument("--epochs", type=int, default=800)
    p.add_argument("--out", help="CSV of subject,y_true,y_pred")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.same_init:
        return same_init(args.same_init)
    if not (args.manifest and args.out):
        p.error("--manifest and --out are needed (or --same-init DIR)")
    manifest = pd.read_csv(args.manifest)
    images = [cv2.imread(path) for path in manifest["input_flow"]]
    unread = [path for path, image in zip(manifest["input_flow"], images) if image is None]
    if unread:
        raise SystemExit(f"cannot read {len(unread)} input_flow image(s), first {unread[0]}")
    x = torch.tensor(np.stack(images).astype(np.float32)).permute(0, 3, 1, 2)
    labels = manifest["label"].to_numpy()
    y, subjects = torch.tensor(labels, dtype=torch.long), manifest["subject"].astype(str).to_numpy()
    rows, start = [], time.time()
    for k, subject in enumerate(sorted(set(subjects))):
        torch.manual_seed(1000 * args.seed + k)
        train, test = np.flatnonzero(subjects != subject), np.flatnonzero(subjects == subject)
        net = STSTNet()
        train_fold(net, x, y, train, args.epochs, shuffled=args.batch_order == "shuffled")
        with torch.no_grad():
            predicted = net(x[test]).argmax(1).numpy()
        rows += [(subject, int(t), int(q)) for t, q in zip(labels[test], predicted)]
        print(f"fold {k + 1} {subject}: {(predicted == labels[test]).mean():.2f} correct, "
              f"{time.time() - start:.0f}s", flush=True)
    pd.DataFrame(rows, columns=["subject", "y_true", "y_pred"]).to_csv(args.out, index=False)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
