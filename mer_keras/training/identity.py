"""The identity of an export: which weights file and which head file belong together.

``reproduce --export`` records the SHA-256 of the model weights and of the SVM head it fitted on those
weights' embeddings in ``config.json`` (``identity``). ``predict`` compares the files it is given with
that record before building anything: a head (or weights) from another export of the same architecture
fits the shapes and would be used silently, giving predictions of a model that was never trained.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from ..errors import InputError

logger = logging.getLogger("mer_keras")


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_identity(weights, head=None) -> dict:
    """``{"weights_sha256", "head_sha256"}`` of an export's files (head None: a softmax export)."""
    return {"weights_sha256": file_sha256(weights), "head_sha256": None if head is None else file_sha256(head)}


def check_export_identity(cfg: dict, config: Path, weights: Path, head: Path | None) -> None:
    """Refuse weights or a head that are not the ones ``config`` recorded (an export made before identities
    were recorded is read with a warning)."""
    identity = cfg.get("identity")
    if not isinstance(identity, dict):
        logger.warning("%s records no identity of its weights and head (an export made before they were kept): "
                       "cannot check that they belong together", config)
        return
    if file_sha256(weights) != identity.get("weights_sha256"):
        raise InputError(f"{weights}: not the weights {config} was exported with (another export or a retrained "
                         "model); give the weights of the same export")
    if head is None or not Path(head).is_file():
        return
    if identity.get("head_sha256") is None:
        raise InputError(f"{head}: this export has no SVM head ({config} says head = "
                         f"{cfg.get('head')!r}), so a head from elsewhere was not fitted on its embeddings; "
                         "drop --head")
    if file_sha256(head) != identity["head_sha256"]:
        raise InputError(f"{head}: this head was not fitted on the embeddings of the export in {config.parent} "
                         "(its SHA-256 is not the one config.json records): use the export's own head.joblib")
