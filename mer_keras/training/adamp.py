"""AdamP as a Keras 3 optimizer: paper 003's optimizer (Sec. 4.2, "AdamP (Heo et al., 2021) is used").

Heo, Chun, Oh, Han, Yun, Kim, Uh, Ha, "AdamP: Slowing Down the Slowdown for Momentum Optimizers on
Scale-invariant Weights", ICLR 2021 (Algorithm 2; official PyTorch code github.com/clovaai/AdamP). Keras
ships no AdamP and we found no maintained Keras port (TF-Addons never had one and is retired), hence
this file. The update, per variable and step t (bias-corrected Adam, then a projection):

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
    u  = m / (sqrt(v / (1 - b2^t)) + eps)            (nesterov: (b1 m + (1 - b1) g) instead of m)
    if the variable has >= 2 axes and is scale-invariant -- max |cos(g, w)| over the per-channel views
    < delta / sqrt(channel size), else over the whole tensor < delta / sqrt(size) -- remove u's radial
    part in that view:  u <- u - w_n <w_n, u>,  w_n = w / (|w| + eps),  and scale weight decay by wd_ratio
    w <- w (1 - lr * weight_decay * ratio)            (decoupled, as AdamW)
    w <- w - lr / (1 - b1^t) * u

Layouts: torch's "channel view" is the output channel, axis 0 of a torch weight. Keras puts it last
(Dense ``(in, out)``, ConvND ``(..., in, out)``), and a depthwise kernel ``(kh, kw, C, M)`` has its C x M
output channels on the last two axes; we take a 4-D variable whose path matches ``depthwise_pattern``
as depthwise. The base class's own ``weight_decay`` is not used (AdamP scales its decay per variable).
"""
from __future__ import annotations

import re

import keras
from keras import ops

DEFAULT_DEPTHWISE_PATTERN = r"(depthwise|dw)[^/]*/kernel$"


@keras.saving.register_keras_serializable(package="mer_keras")
class AdamP(keras.optimizers.Optimizer):
    """Adam with projection for scale-invariant weights (Heo et al. 2021); defaults are the official code's
    (``lr`` 1e-3, betas 0.9 / 0.999, ``eps`` 1e-8, ``delta`` 0.1, ``wd_ratio`` 0.1, no weight decay)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8, weight_decay=0.0, delta=0.1,
                 wd_ratio=0.1, nesterov=False, depthwise_pattern=DEFAULT_DEPTHWISE_PATTERN, name="adamp", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=None, name=name, **kwargs)
        if not (0.0 <= beta_1 < 1.0 and 0.0 <= beta_2 < 1.0):
            raise ValueError(f"beta_1 and beta_2 must be in [0, 1), got {beta_1}, {beta_2}")
        if (weight_decay or 0.0) < 0 or delta < 0 or wd_ratio < 0 or epsilon < 0:
            raise ValueError("weight_decay, delta, wd_ratio and epsilon must be >= 0")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.adamp_weight_decay = float(weight_decay or 0.0)
        self.delta = float(delta)
        self.wd_ratio = float(wd_ratio)
        self.nesterov = bool(nesterov)
        self.depthwise_pattern = depthwise_pattern
        self._depthwise = re.compile(depthwise_pattern) if depthwise_pattern else None

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ["momentum", "velocity"])
        # decided here, where the variables still carry their Keras path (update_step may get backend ones)
        self._depthwise_indices = {
            self._get_variable_index(v) for v in var_list
            if len(v.shape) == 4 and self._depthwise is not None and self._depthwise.search(v.path or "")}

    def _channel_count(self, variable):
        """Number of output channels (the columns of the channel view) of ``variable`` in Keras' layout."""
        shape = tuple(variable.shape)
        if self._get_variable_index(variable) in self._depthwise_indices:
            return shape[-2] * shape[-1]
        return shape[-1]

    def _projection(self, variable, gradient, perturb):
        """(perturb, weight-decay factor) after AdamP's projection test, channel view first, then layer view."""
        eps = self.epsilon
        columns = self._channel_count(variable)
        w = ops.reshape(ops.convert_to_tensor(variable), (-1, columns))
        g = ops.reshape(gradient, (-1, columns))
        u = ops.reshape(perturb, (-1, columns))
        rows, size = w.shape[0], w.shape[0] * columns

        def cosine(a, b, axis):
            return ops.abs(ops.sum(a * b, axis=axis)) / ops.maximum(ops.norm(a, axis=axis) * ops.norm(b, axis=axis),
                                                                    eps)

        def project(axis):
            w_n = w / (ops.norm(w, axis=axis, keepdims=True) + eps)
            return u - w_n * ops.sum(w_n * u, axis=axis, keepdims=True)

        by_channel = ops.max(cosine(g, w, 0)) < self.delta / rows ** 0.5
        by_layer = cosine(ops.reshape(g, (-1,)), ops.reshape(w, (-1,)), 0) < self.delta / size ** 0.5
        projected = ops.where(by_channel, project(0), ops.where(by_layer, project(None), u))
        ratio = ops.where(ops.logical_or(by_channel, by_layer), self.wd_ratio, 1.0)
        return ops.reshape(projected, variable.shape), ops.cast(ratio, variable.dtype)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        g = ops.cast(gradient, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        m_var, v_var = self._momentums[index], self._velocities[index]
        m = beta_1 * m_var + (1.0 - beta_1) * g
        v = beta_2 * v_var + (1.0 - beta_2) * ops.square(g)
        self.assign(m_var, m)
        self.assign(v_var, v)
        denom = ops.sqrt(v) / ops.sqrt(1.0 - ops.power(beta_2, t)) + self.epsilon
        perturb = (beta_1 * m + (1.0 - beta_1) * g if self.nesterov else m) / denom
        ratio = ops.cast(1.0, dtype)
        if len(variable.shape) > 1:
            perturb, ratio = self._projection(variable, g, perturb)
        w = ops.convert_to_tensor(variable)
        if self.adamp_weight_decay > 0:
            w = w * (1.0 - lr * self.adamp_weight_decay * ratio)
        self.assign(variable, w - lr / (1.0 - ops.power(beta_1, t)) * perturb)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "weight_decay": self.adamp_weight_decay, "delta": self.delta, "wd_ratio": self.wd_ratio,
                "nesterov": self.nesterov, "depthwise_pattern": self.depthwise_pattern}
