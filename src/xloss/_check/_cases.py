"""The check case of every public function: seeded inputs (adversarial ones included),
option sets, and the framework reference each result is also held against.

Each case is small and self-contained: ``samples(rng)`` builds the calls, the first of
which is the ``--quick`` one; ``reference`` is the other library's own function in
float64. Frameworks are imported inside the references only, so a missing one makes
that reference unavailable, never the case.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from ._spec import CASES, CheckCase, NotComparable, Sample, register

LN2 = math.log(2.0)
INF = math.inf
LOW = ("float16", "bfloat16")
WIDE = ("float64", "float32")


# -- framework references ----------------------------------------------------------------


def _torch_call(name: str, *args: Any, **options: Any) -> np.ndarray:
    """``torch.nn.functional.<name>`` on float64 (int64 for integer) copies of ``args``."""
    import torch

    def convert(a: Any) -> Any:
        if isinstance(a, np.ndarray):
            return torch.from_numpy(a.copy())
        return a

    out = getattr(torch.nn.functional, name)(
        *map(convert, args), **{k: convert(v) for k, v in options.items()}
    )
    return out.detach().numpy()


def _in_base(value: np.ndarray, base: float | None) -> np.ndarray:
    return value if base is None else value / math.log(base)


def _class_axis_first(x: np.ndarray, axis: int | None) -> np.ndarray:
    """Move the class axis to torch's position (1, or 0 for 1-D input)."""
    if axis is None:
        return x
    return np.moveaxis(x, axis, 1 if x.ndim > 1 else 0)


def _scipy_special(name: str) -> Any:
    import scipy.special

    return getattr(scipy.special, name)


def _args(*arrays: Any) -> tuple[Any, ...]:
    return tuple(arrays)


def _logits(rng: np.random.Generator, *shape: int, spread: float = 3.0) -> np.ndarray:
    return rng.standard_normal(shape) * spread


def _probs(rng: np.random.Generator, *shape: int, zeros: bool = False) -> np.ndarray:
    p = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    if zeros:
        p[..., 0] = 0.0
        p /= p.sum(axis=-1, keepdims=True)
    return p


# -- xloss.special -----------------------------------------------------------------------


def _special_unary(rng: np.random.Generator, axis_options: bool) -> list[Sample]:
    x = _logits(rng, 5, 7)
    extreme = np.array([[-1000.0, -20.0, 0.0, 20.0, 1000.0], [-1e30, -1e-30, 0.0, 1e-30, 1e30]])
    samples = [Sample("normal", (x,))]
    if axis_options:
        samples += [
            Sample("normal", (x,), {"axis": 0}),
            Sample("huge logits", (extreme,), scale=1e30, dtypes=WIDE),
            Sample(
                "near float16 max", (np.array([[-6e4, 0.0, 6e4], [6e4, 6e4, -6e4]]),), scale=6e4
            ),
            Sample("with -inf", (np.array([[0.0, -INF, 1.0], [-INF, -INF, 2.0]]),)),
        ]
    else:
        samples += [
            Sample("extreme", (extreme,), scale=1.0),
            Sample("tiny", (np.array([-1e-8, 1e-12, 5e-300, -5e-300]),), dtypes=("float64",)),
            Sample("empty", (np.zeros((0, 3)),)),
        ]
    return samples


def _logsumexp_samples(rng: np.random.Generator) -> list[Sample]:
    x = _logits(rng, 5, 7)
    return [
        Sample("normal", (x,), {"axis": -1}),
        Sample("normal", (x,)),
        Sample("normal", (x,), {"axis": 0, "keepdims": True}),
        Sample(
            "huge",
            (np.array([[1e30, 1e30, -1e30], [-1e30, 0.0, 1.0]]),),
            {"axis": -1},
            scale=1e30,
            dtypes=WIDE,
        ),
        Sample(
            "large",
            (np.array([[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -1000.0]]),),
            {"axis": -1},
        ),
        Sample("-inf rows", (np.array([[-INF, -INF, -INF], [0.0, -INF, 1.0]]),), {"axis": -1}),
        Sample(
            "near float32 max",
            (np.array([[3e38, 3e38, -3e38], [-3e38, 0.0, 1.0]]),),
            {"axis": -1},
            scale=3e38,
            dtypes=("float32",),
        ),
        Sample("empty", (np.zeros((2, 0)),), {"axis": -1}),
    ]


register(
    CheckCase(
        "special.logsumexp",
        _logsumexp_samples,
        reference=lambda x, **o: _scipy_special("logsumexp")(x, **o),
        reference_name="scipy.special.logsumexp",
        grad=True,
    )
)
register(
    CheckCase(
        "special.log_softmax",
        lambda rng: _special_unary(rng, True),
        reference=lambda x, axis=-1: _scipy_special("log_softmax")(x, axis=axis),
        reference_name="scipy.special.log_softmax",
        grad=True,
    )
)
register(
    CheckCase(
        "special.softmax",
        lambda rng: _special_unary(rng, True),
        reference=lambda x, axis=-1: _scipy_special("softmax")(x, axis=axis),
        reference_name="scipy.special.softmax",
    )
)
register(
    CheckCase(
        "special.sigmoid",
        lambda rng: _special_unary(rng, False),
        reference=lambda x: _scipy_special("expit")(x),
        reference_name="scipy.special.expit",
    )
)
register(
    CheckCase(
        "special.log_sigmoid",
        lambda rng: _special_unary(rng, False),
        reference=lambda x: _scipy_special("log_expit")(x),
        reference_name="scipy.special.log_expit",
        grad=True,
    )
)
register(
    CheckCase(
        "special.softplus",
        lambda rng: _special_unary(rng, False),
        reference=lambda x: np.logaddexp(0.0, x),
        reference_name="numpy.logaddexp(0, x)",
    )
)


def _binary_samples(rng: np.random.Generator, y_low: float) -> list[Sample]:
    x = rng.uniform(0.0, 3.0, (4, 6))
    y = rng.uniform(y_low, 5.0, (4, 6))
    x[0, :3] = 0.0
    y[1, :2] = 0.0
    x[1, 0] = 0.0
    y[2, 0] = y_low
    return [
        Sample("uniform", (x, y)),
        Sample("broadcast", (x[:, :1], y)),
        Sample(
            "zeros",
            (np.array([0.0, 0.0, 1.0, 2.0, 1e-300]), np.array([0.0, 1e-300, 0.0, 1e300, 1.0])),
            dtypes=("float64",),
        ),
    ]


for _name in ("xlogy", "xlog1py"):
    register(
        CheckCase(
            f"special.{_name}",
            functools.partial(_binary_samples, y_low=0.0 if _name == "xlogy" else -0.9),
            reference=(lambda x, y, n=_name: _scipy_special(n)(x, y)),
            reference_name=f"scipy.special.{_name}",
        )
    )


def _entr_samples(rng: np.random.Generator) -> list[Sample]:
    p = rng.uniform(0.0, 2.0, (4, 5))
    p[0, 0] = 0.0
    return [
        Sample("uniform", (p,)),
        Sample("edges", (np.array([0.0, -1.0, 1.0, 1e-300, 1e300]),), dtypes=("float64",)),
    ]


def _rel_entr_samples(rng: np.random.Generator) -> list[Sample]:
    x, y = rng.uniform(0.0, 2.0, (2, 4, 5))
    x[0, :2] = 0.0
    y[0, 0] = 0.0
    y[1, 0] = 0.0
    return [
        Sample("uniform", (x, y)),
        Sample(
            "edges", (np.array([0.0, 0.0, 1.0, -1.0, 1.0]), np.array([0.0, 1.0, 0.0, 1.0, -1.0]))
        ),
    ]


register(
    CheckCase(
        "special.entr",
        _entr_samples,
        reference=lambda p: _scipy_special("entr")(p),
        reference_name="scipy.special.entr",
    )
)
register(
    CheckCase(
        "special.rel_entr",
        _rel_entr_samples,
        reference=lambda x, y: _scipy_special("rel_entr")(x, y),
        reference_name="scipy.special.rel_entr",
    )
)


# -- xloss.info --------------------------------------------------------------------------


def _info_samples(rng: np.random.Generator, two: bool) -> list[Sample]:
    p = _probs(rng, 4, 6, zeros=True)
    q = _probs(rng, 4, 6)
    counts = rng.integers(0, 5, (4, 6)).astype(np.float64)
    counts[:, 0] += 1.0
    logits_p = _logits(rng, 4, 6, spread=5.0)
    logits_q = _logits(rng, 4, 6, spread=5.0)
    logits_p[0, 1] = -INF
    args = (p, q) if two else (p,)
    samples = [
        Sample("probabilities", args),
        Sample("probabilities", args, {"base": 2}),
        Sample("probabilities", tuple(a.T.copy() for a in args), {"axis": 0}),
        Sample("counts", (counts, q) if two else (counts,)),
        Sample("logits", (logits_p, logits_q) if two else (logits_p,), {"logits": True}),
        Sample(
            "huge logits",
            (np.array([[1e30, 0.0, -1e30]]),) * (2 if two else 1),
            {"logits": True},
            dtypes=WIDE,
        ),
    ]
    if two:
        q0 = q.copy()
        q0[1, 2] = 0.0  # p > 0 = q: infinite KL
        samples.append(Sample("q has zeros", (p, q0)))
    return samples


def _softmax_np(x: np.ndarray, axis: int) -> np.ndarray:
    return _scipy_special("softmax")(x, axis=axis)


def _entropy_ref(
    p: np.ndarray, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> np.ndarray:
    from scipy.stats import entropy

    return entropy(_softmax_np(p, axis) if logits else p, base=base, axis=axis)


def _kl_ref(
    p: np.ndarray, q: np.ndarray, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> np.ndarray:
    from scipy.stats import entropy

    if logits:
        p, q = _softmax_np(p, axis), _softmax_np(q, axis)
    return entropy(p, q, base=base, axis=axis)


def _info_ce_ref(p: np.ndarray, q: np.ndarray, **options: Any) -> np.ndarray:
    return _entropy_ref(p, **options) + _kl_ref(p, q, **options)


def _js_ref(
    p: np.ndarray, q: np.ndarray, *, axis: int = -1, base: float | None = None, logits: bool = False
) -> np.ndarray:
    from scipy.spatial.distance import jensenshannon

    if logits:
        p, q = _softmax_np(p, axis), _softmax_np(q, axis)
    return jensenshannon(p, q, base=base, axis=axis) ** 2


register(
    CheckCase(
        "info.entropy",
        lambda rng: _info_samples(rng, False),
        reference=_entropy_ref,
        reference_name="scipy.stats.entropy",
        grad=True,
    )
)
register(
    CheckCase(
        "info.kl_divergence",
        lambda rng: _info_samples(rng, True),
        reference=_kl_ref,
        reference_name="scipy.stats.entropy(p, q)",
        grad=True,
    )
)
register(
    CheckCase(
        "info.cross_entropy",
        lambda rng: _info_samples(rng, True),
        reference=_info_ce_ref,
        reference_name="scipy.stats.entropy(p) + entropy(p, q)",
    )
)
register(
    CheckCase(
        "info.js_divergence",
        lambda rng: _info_samples(rng, True),
        reference=_js_ref,
        reference_name="scipy.spatial.distance.jensenshannon(p, q)**2",
        tolerance={"float64": 256.0, "float32": 256.0},
    )
)


# -- classification losses ---------------------------------------------------------------


def _labels(rng: np.random.Generator, n: int, c: int, *shape: int) -> np.ndarray:
    return rng.integers(0, c, (n, *shape)).astype(np.int64)


def _ce_samples(rng: np.random.Generator, log_probs: bool) -> list[Sample]:
    n, c = 6, 5
    x = _logits(rng, n, c)
    if log_probs:
        x = _scipy_log_softmax(x, 1)
    y = _labels(rng, n, c)
    y_ignored = y.copy()
    y_ignored[[1, 4]] = -100
    weight = rng.uniform(0.2, 2.0, c)
    x3 = _logits(rng, 3, c, 4)
    if log_probs:
        x3 = _scipy_log_softmax(x3, 1)
    y3 = _labels(rng, 3, c, 4)
    seq = _logits(rng, 2, 3, c)  # (batch, time, vocab)
    if log_probs:
        seq = _scipy_log_softmax(seq, -1)
    huge = np.array([[1e30, 0.0, -1e30], [-1e30, 1e30, 0.0]])
    samples = [
        Sample("labels", (x, y)),
        Sample("labels", (x, y), {"reduction": "sum"}),
        Sample("labels", (x, y), {"reduction": "none"}),
        Sample("weight+ignored", (x, y_ignored, weight)),
        Sample("weight+ignored", (x, y_ignored, weight), {"reduction": "none"}),
        Sample("ignore_index=2", (x, y), {"ignore_index": 2}),
        Sample("all ignored", (x, np.full(n, -100, dtype=np.int64))),
        Sample("(N,C,d)", (x3, y3)),
        Sample("(C,)", (x[0], y[:1].reshape(()))),
        Sample("axis=-1", (seq, _labels(rng, 2, c, 3)), {"axis": -1}),
        Sample("bits", (x, y), {"base": 2}),
        Sample("empty", (x[:0], y[:0]), {"reduction": "sum"}),
        Sample(
            "huge logits",
            (huge, np.array([0, 2])),
            {"reduction": "none"},
            scale=1e30,
            dtypes=WIDE,
            reference=log_probs,
        ),
        Sample(
            "near float32 max",
            (np.array([[3e38, 0.0, -3e38], [-3e38, 3e38, 3e38]]), np.array([0, 2])),
            {"reduction": "none"},
            scale=3e38,
            dtypes=("float32",),
        ),
    ]
    if not log_probs:
        target_p = _probs(rng, n, c, zeros=True)
        samples += [
            Sample("probability targets", (x, target_p)),
            Sample("probability targets+weight", (x, target_p, weight), {"reduction": "none"}),
            Sample("label_smoothing", (x, y_ignored, weight), {"label_smoothing": 0.1}),
            Sample("label_smoothing", (x, target_p), {"label_smoothing": 0.2}),
            Sample("large logits", (x * 1e4, y), scale=1e5),
        ]
    return samples


def _scipy_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def _torch_ce_ref(name: str) -> Any:
    def reference(
        input: np.ndarray,
        target: np.ndarray,
        weight: np.ndarray | None = None,
        *,
        axis: int | None = None,
        base: float | None = None,
        **options: Any,
    ) -> Any:
        input = _class_axis_first(input, axis)
        if axis is not None and target.dtype.kind == "f":
            target = _class_axis_first(target, axis)
        elif axis is not None and input.ndim > 2:
            pass  # index targets (N, d1, ...) already have torch's layout
        out = _torch_call(name, input, target, weight, **options)
        return _in_base(out, base)

    return reference


register(
    CheckCase(
        "cross_entropy",
        lambda rng: _ce_samples(rng, False),
        reference=_torch_ce_ref("cross_entropy"),
        reference_name="torch.nn.functional.cross_entropy",
        grad=True,
    )
)
register(
    CheckCase(
        "nll_loss",
        lambda rng: _ce_samples(rng, True),
        reference=_torch_ce_ref("nll_loss"),
        reference_name="torch.nn.functional.nll_loss",
    )
)


def _bce_samples(rng: np.random.Generator, logits: bool) -> list[Sample]:
    shape = (5, 4)
    target = rng.uniform(0.0, 1.0, shape)
    target[0] = np.round(target[0])
    weight = rng.uniform(0.5, 2.0, shape[1])
    if logits:
        x = _logits(rng, *shape)
        extreme = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
        samples = [
            Sample("logits", (x, target)),
            Sample("logits", (x, target), {"reduction": "none"}),
            Sample("pos_weight", (x, target), {"pos_weight": rng.uniform(0.5, 3.0, shape[1])}),
            Sample("weight", (x, target, weight), {"reduction": "sum"}),
            Sample(
                "extreme logits",
                (extreme, np.array([1.0, 0.0, 0.5, 1.0, 0.0])),
                {"reduction": "none"},
                scale=1e4,
            ),
        ]
    else:
        x = rng.uniform(0.0, 1.0, shape)
        x[1, :2] = [0.0, 1.0]  # log clamped at -100
        samples = [
            Sample("probabilities", (x, target)),
            Sample("probabilities", (x, target), {"reduction": "none"}),
            Sample("weight", (x, target, weight), {"reduction": "sum"}),
        ]
    return [
        *samples,
        Sample("bits", samples[0].args, {"base": 2}),
        Sample("empty", (x[:0], target[:0]), {"reduction": "sum"}),
    ]


def _bce_ref(name: str) -> Any:
    def reference(
        input: np.ndarray,
        target: np.ndarray,
        weight: np.ndarray | None = None,
        *,
        base: float | None = None,
        **options: Any,
    ) -> Any:
        return _in_base(_torch_call(name, input, target, weight, **options), base)

    return reference


register(
    CheckCase(
        "binary_cross_entropy",
        lambda rng: _bce_samples(rng, False),
        reference=_bce_ref("binary_cross_entropy"),
        reference_name="torch.nn.functional.binary_cross_entropy",
    )
)
register(
    CheckCase(
        "binary_cross_entropy_with_logits",
        lambda rng: _bce_samples(rng, True),
        reference=_bce_ref("binary_cross_entropy_with_logits"),
        reference_name="torch.nn.functional.binary_cross_entropy_with_logits",
        grad=True,
    )
)


def _kl_div_samples(rng: np.random.Generator) -> list[Sample]:
    log_q = _scipy_log_softmax(_logits(rng, 4, 6), 1)
    p = _probs(rng, 4, 6, zeros=True)
    log_p = _scipy_log_softmax(_logits(rng, 4, 6), 1)
    return [
        Sample("probabilities", (log_q, p)),
        Sample("probabilities", (log_q, p), {"reduction": "batchmean"}),
        Sample("probabilities", (log_q, p), {"reduction": "none"}),
        Sample("log_target", (log_q, log_p), {"log_target": True, "reduction": "sum"}),
        Sample("bits", (log_q, p), {"reduction": "batchmean", "base": 2}),
    ]


register(
    CheckCase(
        "kl_div",
        _kl_div_samples,
        reference=_bce_ref("kl_div"),
        reference_name="torch.nn.functional.kl_div",
        grad=True,
    )
)


def _margin_samples(rng: np.random.Generator, multilabel: bool) -> list[Sample]:
    x = _logits(rng, 5, 4)
    if multilabel:
        y = (rng.uniform(size=(5, 4)) > 0.5).astype(np.float64)
        w = rng.uniform(0.5, 2.0, 4)
        return [
            Sample("logits", (x, y)),
            Sample("weight", (x, y, w), {"reduction": "none"}),
            Sample(
                "extreme",
                (np.array([[1e4, -1e4, 0.0]]), np.array([[0.0, 1.0, 1.0]])),
                {"reduction": "sum"},
                scale=1e4,
                reference=False,
            ),
        ]
    y = np.where(rng.uniform(size=(5, 4)) > 0.5, 1.0, -1.0)
    return [
        Sample("logits", (x, y)),
        Sample("logits", (x, y), {"reduction": "none"}),
        Sample(
            "extreme",
            (np.array([-1e4, 1e4, 100.0]), np.array([1.0, -1.0, -1.0])),
            {"reduction": "none"},
            scale=1e4,
            reference=False,
        ),  # torch overflows
    ]


register(
    CheckCase(
        "soft_margin_loss",
        lambda rng: _margin_samples(rng, False),
        reference=lambda x, y, **o: _torch_call("soft_margin_loss", x, y, **o),
        reference_name="torch.nn.functional.soft_margin_loss",
    )
)
register(
    CheckCase(
        "multilabel_soft_margin_loss",
        lambda rng: _margin_samples(rng, True),
        reference=lambda x, y, w=None, **o: _torch_call(
            "multilabel_soft_margin_loss", x, y, w, **o
        ),
        reference_name="torch.nn.functional.multilabel_soft_margin_loss",
    )
)


def _focal_ref(
    x: np.ndarray,
    t: np.ndarray,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> np.ndarray:
    # torchvision.ops.sigmoid_focal_loss, written out in float64
    p = 1.0 / (1.0 + np.exp(-x))
    ce = np.logaddexp(0.0, x) - t * x
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _focal_samples(rng: np.random.Generator) -> list[Sample]:
    x = _logits(rng, 5, 4)
    t = (rng.uniform(size=(5, 4)) > 0.7).astype(np.float64)
    return [
        Sample("logits", (x, t)),
        Sample("logits", (x, t), {"reduction": "mean"}),
        Sample("alpha=-1,gamma=0", (x, t), {"alpha": -1.0, "gamma": 0.0, "reduction": "sum"}),
        Sample("gamma=1.5", (x, t), {"gamma": 1.5}),
    ]


register(
    CheckCase(
        "sigmoid_focal_loss",
        _focal_samples,
        reference=_focal_ref,
        reference_name="torchvision.ops.sigmoid_focal_loss (written out)",
    )
)


# -- regression likelihoods --------------------------------------------------------------


def _pair(rng: np.random.Generator, shape: tuple[int, ...] = (6, 3)) -> tuple[np.ndarray, ...]:
    return rng.standard_normal(shape) * 2.0, rng.standard_normal(shape) * 2.0


def _regression_samples(rng: np.random.Generator, option: str | None, weight: bool) -> list[Sample]:
    x, t = _pair(rng)
    w = rng.uniform(0.5, 2.0, (6, 3))
    samples = [
        Sample("normal", (x, t)),
        Sample("normal", (x, t), {"reduction": "sum"}),
        Sample("normal", (x, t), {"reduction": "none"}),
        Sample("large errors", (x * 1e3, t), {"reduction": "none"}, scale=1e3),
        Sample("empty", (x[:0], t[:0]), {"reduction": "sum"}),
    ]
    if option is not None:
        samples.append(Sample(f"{option}=0.5", (x, t), {option: 0.5}))
    if weight:
        samples.append(Sample("weight", (x, t), {"weight": w, "reduction": "sum"}))
    return samples


for _name, _option, _weight in (
    ("mse_loss", None, True),
    ("l1_loss", None, True),
    ("huber_loss", "delta", True),
    ("smooth_l1_loss", "beta", False),
):
    register(
        CheckCase(
            _name,
            functools.partial(_regression_samples, option=_option, weight=_weight),
            reference=(lambda x, t, n=_name, **o: _torch_call(n, x, t, **o)),
            reference_name=f"torch.nn.functional.{_name}",
            grad=_name == "huber_loss",
        )
    )


def _log_cosh_ref(x: np.ndarray, t: np.ndarray, *, reduction: str = "mean") -> np.ndarray:
    e = np.abs(x - t)
    loss = e + np.log1p(np.exp(-2.0 * e)) - LN2
    # near 0 the form above cancels: use the series e^2/2 - e^4/12 + e^6/45 there
    loss = np.where(e < 1e-3, e**2 / 2 - e**4 / 12 + e**6 / 45, loss)
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _log_cosh_samples(rng: np.random.Generator) -> list[Sample]:
    x, t = _pair(rng)
    return [
        Sample("normal", (x, t)),
        Sample("normal", (x, t), {"reduction": "none"}),
        Sample("large errors", (x * 1e4, t), {"reduction": "sum"}, scale=1e4),
        Sample("tiny errors", (t + 1e-6 * x, t), {"reduction": "none"}, dtypes=("float64",)),
    ]


register(
    CheckCase(
        "log_cosh_loss",
        _log_cosh_samples,
        reference=_log_cosh_ref,
        reference_name="log cosh, written out (|e| + log1p(e^-2|e|) - log 2)",
    )
)


def _gaussian_samples(rng: np.random.Generator) -> list[Sample]:
    x, t = _pair(rng)
    var = rng.uniform(0.1, 3.0, (6, 3))
    var_tiny = var.copy()
    var_tiny[0] = 1e-9  # clamped at eps
    return [
        Sample("normal", (x, t, var)),
        Sample("full", (x, t, var), {"full": True, "reduction": "sum"}),
        Sample("var (N,1)", (x, t, var[:, :1]), {"reduction": "none"}),
        Sample("var clamped", (x, t, var_tiny), {"eps": 1e-6}, dtypes=WIDE, scale=10.0),
    ]


def _poisson_samples(rng: np.random.Generator) -> list[Sample]:
    log_rate = rng.standard_normal((6, 3))
    rate = np.exp(log_rate)
    counts = rng.poisson(2.0, (6, 3)).astype(np.float64)
    return [
        Sample("log input", (log_rate, counts)),
        Sample("full", (log_rate, counts), {"full": True, "reduction": "none"}),
        Sample("rates", (rate, counts), {"log_input": False, "reduction": "sum"}),
        Sample("rates full", (rate, counts), {"log_input": False, "full": True}),
    ]


register(
    CheckCase(
        "gaussian_nll_loss",
        _gaussian_samples,
        reference=lambda x, t, v, **o: _torch_call("gaussian_nll_loss", x, t, v, **o),
        reference_name="torch.nn.functional.gaussian_nll_loss",
    )
)
register(
    CheckCase(
        "poisson_nll_loss",
        _poisson_samples,
        reference=lambda x, t, **o: _torch_call("poisson_nll_loss", x, t, **o),
        reference_name="torch.nn.functional.poisson_nll_loss",
    )
)


# -- xloss.metrics -----------------------------------------------------------------------


def _log_loss_samples(rng: np.random.Generator) -> list[Sample]:
    # Probabilities of 0 and 1 are clipped at the eps of their own dtype (scikit-learn's
    # rule), so they are only comparable with the float64 reference in float64.
    n, c = 12, 4
    p = rng.uniform(0.05, 1.0, (n, c))
    p /= p.sum(axis=1, keepdims=True)
    p0 = _probs(rng, n, c, zeros=True)
    y = rng.integers(0, c, n).astype(np.int64)
    y[:c] = np.arange(c)
    pos = rng.uniform(0.01, 0.99, n)
    yb = rng.integers(0, 2, n).astype(np.int64)
    yb[:2] = [0, 1]
    w = rng.uniform(0.5, 2.0, n)
    return [
        Sample("(n,C)", (y, p)),
        Sample("binary", (yb, pos)),
        Sample("sample_weight", (y, p), {"sample_weight": w}),
        Sample("sum", (y, p), {"normalize": False}),
        Sample("zeros (clipped)", (y, p0), dtypes=("float64",)),
        Sample(
            "0 and 1 (clipped)",
            (yb, np.where(yb == 1, 0.0, 1.0)),
            {"normalize": False},
            dtypes=("float64",),
        ),
    ]


def _log_loss_ref(y: np.ndarray, p: np.ndarray, **options: Any) -> Any:
    from sklearn.metrics import log_loss

    if p.ndim == 2:
        options.setdefault("labels", list(range(p.shape[1])))
    return log_loss(y, p, **options)


register(
    CheckCase(
        "metrics.log_loss",
        _log_loss_samples,
        reference=_log_loss_ref,
        reference_name="sklearn.metrics.log_loss",
    )
)


def _token_samples(rng: np.random.Generator) -> list[Sample]:
    b, t, v = 3, 5, 7
    x = _logits(rng, b, t, v)
    y = rng.integers(0, v, (b, t)).astype(np.int64)
    y[0, :2] = -100
    x2 = _logits(rng, 8, v)
    y2 = rng.integers(0, v, 8).astype(np.int64)
    return [
        Sample("(N,C)", (x2, y2)),
        Sample("(B,T,V) axis=-1", (x, y), {"axis": -1}),
        Sample("ignore_index=3", (x2, y2), {"ignore_index": 3}),
    ]


def _token_ref(bits: bool) -> Any:
    def reference(
        x: np.ndarray, y: np.ndarray, *, ignore_index: int = -100, axis: int | None = None
    ) -> Any:
        ce = _torch_call("cross_entropy", _class_axis_first(x, axis), y, ignore_index=ignore_index)
        return ce / LN2 if bits else np.exp(ce)

    return reference


register(
    CheckCase(
        "metrics.perplexity",
        _token_samples,
        reference=_token_ref(False),
        reference_name="exp(torch.nn.functional.cross_entropy)",
    )
)
register(
    CheckCase(
        "metrics.bits_per_token",
        _token_samples,
        reference=_token_ref(True),
        reference_name="torch.nn.functional.cross_entropy / log 2",
    )
)


def _brier_samples(rng: np.random.Generator) -> list[Sample]:
    n = 12
    y = rng.integers(0, 2, n).astype(np.int64)
    y[:2] = [0, 1]
    p = rng.uniform(0.0, 1.0, n)
    w = rng.uniform(0.5, 2.0, n)
    return [
        Sample("binary", (y, p)),
        Sample("sample_weight", (y, p), {"sample_weight": w}),
    ]


def _brier_ref(y: np.ndarray, p: np.ndarray, **options: Any) -> Any:
    from sklearn.metrics import brier_score_loss

    return brier_score_loss(y, p, **options)


register(
    CheckCase(
        "metrics.brier_score",
        _brier_samples,
        reference=_brier_ref,
        reference_name="sklearn.metrics.brier_score_loss",
    )
)


def _ece_samples(rng: np.random.Generator) -> list[Sample]:
    # Confidences at the centres of 1/128-wide cells: exact in every dtype (bfloat16 too)
    # and never on a bin edge, so binning cannot differ between dtypes.
    n, c = 40, 3
    y = rng.integers(0, 2, n).astype(np.int64)
    pos = (rng.integers(0, 64, n) * 2 + 1) / 128.0
    raw = (rng.integers(0, 32, (n, c)) * 2 + 1) / 128.0
    top = np.argmax(raw, axis=1)
    rest = raw.sum(axis=1) - raw[np.arange(n), top]
    # (n, C) probabilities with a well-separated top class; rows need not sum to 1 exactly
    pm = np.where(np.arange(c) == top[:, None], 1.0 - rest[:, None] / 4, raw / 4)
    pm = np.round(pm * 128) / 128 + 1 / 256
    ym = rng.integers(0, c, n).astype(np.int64)
    return [
        Sample("binary", (y, pos)),
        Sample("binary l2", (y, pos), {"n_bins": 8, "norm": "l2"}),
        Sample("binary max", (y, pos), {"n_bins": 10, "norm": "max"}),
        # torchmetrics' multiclass form computes in float32
        Sample(
            "(n,C)",
            (ym, pm / pm.sum(axis=1, keepdims=True)),
            {"n_bins": 8},
            dtypes=WIDE,
            reference_dtype="float32",
        ),
    ]


def _ece_ref(y: np.ndarray, p: np.ndarray, *, n_bins: int = 15, norm: str = "l1") -> Any:
    import torch
    from torchmetrics.functional.classification import (
        binary_calibration_error,
        multiclass_calibration_error,
    )

    preds, target = torch.from_numpy(p), torch.from_numpy(y)
    if p.ndim == 1:
        binary = binary_calibration_error(preds, target, n_bins=n_bins, norm=norm)  # type: ignore[arg-type]
        return binary.numpy()
    return multiclass_calibration_error(
        preds,
        target,
        num_classes=p.shape[1],
        n_bins=n_bins,
        norm=norm,  # type: ignore[arg-type]
    ).numpy()


register(
    CheckCase(
        "metrics.expected_calibration_error",
        _ece_samples,
        reference=_ece_ref,
        reference_name="torchmetrics calibration_error",
        tolerance={"float64": 256.0, "float32": 256.0},
    )
)


# -- xloss.grad: value, gradient and Hessian diagonal, from the losses' own samples --------

#: each analytic-derivative case reuses this many of its loss's samples
GRAD_SAMPLES = 3


def _with_hessian(loss: CheckCase) -> Any:
    def samples(rng: np.random.Generator) -> list[Sample]:
        chosen = loss.samples(loss.rng())[:GRAD_SAMPLES]
        return [dataclasses.replace(s, options={**s.options, "hessian": True}) for s in chosen]

    return samples


def _grad_info_samples(two: bool) -> Any:
    def samples(rng: np.random.Generator) -> list[Sample]:
        p, q = _logits(rng, 4, 6, spread=5.0), _logits(rng, 4, 6, spread=5.0)
        p[0, 1] = -INF  # a class with probability 0
        args = (p, q) if two else (p,)
        return [
            Sample("logits", args, {"logits": True}),
            Sample("logits", args, {"logits": True, "base": 2}),
            Sample("logits", tuple(a.T.copy() for a in args), {"logits": True, "axis": 0}),
            Sample(
                "huge logits",
                (np.array([[1e30, 0.0, -1e30]]),) * len(args),
                {"logits": True},
                dtypes=WIDE,
            ),
        ]

    return samples


for _loss in (
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "gaussian_nll_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "log_cosh_loss",
    "mse_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
):
    register(CheckCase(f"grad.{_loss}", _with_hessian(CASES[_loss])))
register(CheckCase("grad.info.entropy", _grad_info_samples(False)))
register(CheckCase("grad.info.cross_entropy", _grad_info_samples(True)))
register(CheckCase("grad.info.kl_divergence", _grad_info_samples(True)))

__all__ = ["NotComparable"]
