"""The heads that turn a fine-tuned network into predictions: ``SVMHead`` (StandardScaler + SVC over network
embeddings, tuned inside the training fold only), its stage ``SVMHeadStage``, and ``SoftmaxHead``.

The grid search splits the *training* subjects into groups (subject-grouped K-fold), so neither the scaler
statistics nor the chosen kernel / C ever see the held-out subject. ``head.joblib`` exports pickle ``SVMHead``;
those written before this module existed name ``mer_keras.training.svm_head.SVMHead``, which still resolves.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..errors import ConfigError
from ..models.msresnet3d import choose_output
from .config import VariantConfig
from .embeddings import batched_outputs
from .networks import embedding_of


def svm_pipeline(seed=0) -> Pipeline:
    return Pipeline([("scale", StandardScaler()),
                     ("svc", SVC(class_weight="balanced", random_state=seed))])


def fit_svm_head(features, y, groups, *, kernels=("linear", "rbf"), C=(0.1, 1.0, 10.0), inner_splits=3, seed=0):
    """Fit the head on one training fold; return the refitted best ``Pipeline`` (``best_params_`` attached).

    With fewer than two training subjects, a single class, or no inner split whose training part holds two
    classes, there is nothing to search over: the first grid point is fitted directly (recorded as such).
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    grid = {"svc__kernel": list(kernels), "svc__C": list(C)}
    n_groups = len(np.unique(groups))
    # inner splits whose training part holds a single class cannot fit an SVC: leave them out
    splits = [] if n_groups < 2 else [
        (tr, te) for tr, te in GroupKFold(n_splits=min(int(inner_splits), n_groups)).split(features, y, groups)
        if len(np.unique(y[tr])) > 1]
    if not splits or len(np.unique(y)) < 2:
        model = svm_pipeline(seed).set_params(svc__kernel=grid["svc__kernel"][0], svc__C=grid["svc__C"][0])
        model.fit(features, y)
        model.best_params_ = {"svc__kernel": grid["svc__kernel"][0], "svc__C": grid["svc__C"][0],
                              "searched": False}
        return model
    search = GridSearchCV(svm_pipeline(seed), grid, scoring="f1_macro", cv=splits, refit=True, n_jobs=1)
    search.fit(features, y, groups=groups)
    best = search.best_estimator_
    best.best_params_ = dict(search.best_params_, searched=True, inner_f1_macro=float(search.best_score_))
    return best


class SVMHead(ClassifierMixin, BaseEstimator):
    """The SVM head as a scikit-learn estimator: ``fit(X, y, groups)`` runs the subject-grouped grid search
    over ``kernels`` x ``C`` on the training data only, then refits the best point on all of it."""

    def __init__(self, kernels=("linear", "rbf"), C=(0.1, 1.0, 10.0), inner_splits=3, seed=0):
        self.kernels, self.C, self.inner_splits, self.seed = kernels, C, inner_splits, seed

    def fit(self, X, y, groups=None):
        y = np.asarray(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        self.pipeline_ = fit_svm_head(X, y, groups, kernels=self.kernels, C=self.C,
                                      inner_splits=self.inner_splits, seed=self.seed)
        self.best_params_ = self.pipeline_.best_params_
        self.classes_ = self.pipeline_.classes_
        return self

    def predict(self, X):
        return self.pipeline_.predict(X)

    def decision_function(self, X):
        return self.pipeline_.decision_function(X)


class SoftmaxHead:
    """The network's own classifier. With several outputs (paper 001's four), ``head.output_rule`` says
    which: their mean, the one best on the inner split, or (LEAKY, the paper's discriminative network)
    per test clip the one whose loss on that clip's own label is lowest. ``fit``'s ``data``: a
    ``stages.TrainSet``."""

    estimator = None

    def fit(self, variant, model, data, *, seed, history=None):
        self.model, self.rule = model, variant.head.output_rule
        self.inner_scores = (history or {}).get("inner_val_uar_per_output")
        if self.rule == "best_inner_val" and not self.inner_scores:
            raise ConfigError("head.output_rule = 'best_inner_val' needs finetune.checkpoint = 'best_inner_val'")
        return self

    def params(self) -> dict:
        out = {"kind": "softmax"}
        if self.rule != "mean" or self.inner_scores:
            out.update(output_rule=self.rule, inner_val_uar_per_output=self.inner_scores)
        return out

    def predict(self, x, held_out_labels=None):
        scores = batched_outputs(self.model, x)
        if scores.ndim == 3:  # (outputs, N, classes)
            rule = {"best_inner_val": "best_validation"}.get(self.rule, self.rule)
            scores, _ = choose_output(scores, rule, validation_scores=self.inner_scores, labels=held_out_labels)
        return scores.argmax(axis=1), scores


class SVMHeadStage:
    """An SVM on the network's pooled features, kernel and C chosen inside the training fold (``fit``'s
    ``data``: a ``stages.TrainSet``)."""

    def fit(self, variant, model, data, *, seed, history=None):
        if len(model.outputs) > 1:
            raise ConfigError(f"model {variant.model!r} has {len(model.outputs)} outputs: use head.kind = 'softmax'")
        self.embed = embedding_of(model)
        h = variant.head
        self.estimator = SVMHead(kernels=h.kernels, C=h.C, inner_splits=h.inner_splits, seed=seed)
        self.estimator.fit(batched_outputs(self.embed, data.x), data.y, groups=data.groups)
        return self

    def params(self) -> dict:
        return {"kind": "svm", **self.estimator.best_params_}

    def predict(self, x, held_out_labels=None):
        features = batched_outputs(self.embed, x)
        return self.estimator.predict(features), self.estimator.decision_function(features)


HEADS = {"svm": SVMHeadStage, "softmax": SoftmaxHead}


def head_for(variant: VariantConfig):
    if variant.head.kind not in HEADS:
        raise ConfigError(f"unknown head {variant.head.kind!r}; known: {sorted(HEADS)}")
    return HEADS[variant.head.kind]()
