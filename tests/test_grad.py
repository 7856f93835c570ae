"""xloss.grad: values equal the public losses, gradients and Hessian diagonals equal torch autograd.

Every gradient is compared on every backend with ``torch.autograd`` of
``torch.nn.functional`` (float64), with ``jax.grad`` of the xloss loss itself, and the
Hessian diagonal with the diagonal of ``torch.autograd.functional.hessian``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import xloss
from backends import Case, assert_result

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(8)
REDUCTIONS = ("mean", "sum", "none")


@dataclass
class Spec:
    """One loss call: its arrays, options, and the torch.nn.functional reference."""

    name: str
    label: str
    args: dict[str, np.ndarray]  # positional arrays, in the loss's argument order
    reference: Callable[..., Any]  # torch tensors (same names) -> loss tensor
    options: dict[str, Any] = field(default_factory=dict)
    keyword_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    wrt: tuple[str, ...] = ("input",)  # the arrays the returned gradients belong to

    @property
    def id(self) -> str:
        return f"{self.name}-{self.label}"


def _torch_inputs(spec: Spec, dtype: str) -> dict[str, Any]:
    tensors = {}
    for k, v in {**spec.args, **spec.keyword_arrays}.items():
        v = v.astype(dtype).astype(np.float64) if v.dtype.kind == "f" else v.astype(np.int64)
        tensors[k] = torch.tensor(v, requires_grad=k in spec.wrt)
    return tensors


def torch_reference(spec: Spec, dtype: str = "float64") -> tuple[np.ndarray, list[np.ndarray]]:
    """The value and the gradients of its sum, from torch autograd in float64."""
    tensors = _torch_inputs(spec, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's reduction="mean" warning
        out = spec.reference(**tensors)
    grads = torch.autograd.grad(out.sum(), [tensors[k] for k in spec.wrt])
    return out.detach().numpy(), [g.numpy() for g in grads]


def torch_hessian_diagonal(spec: Spec) -> np.ndarray:
    tensors = _torch_inputs(spec, "float64")
    x = tensors.pop("input").detach()

    def total(value: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return spec.reference(input=value, **tensors).sum()

    hessian = torch.autograd.functional.hessian(total, x)
    n = x.numel()
    return torch.diagonal(hessian.reshape(n, n)).reshape(x.shape).numpy()


def _as(case: Case, value: np.ndarray, dtype: str) -> Any:
    if value.dtype.kind == "f":
        return case.asarray(value.astype(dtype), dtype)
    return case.asarray(value)


def run_grad(case: Case, spec: Spec, dtype: str, **extra: Any) -> tuple[Any, ...]:
    args = [_as(case, v, dtype) for v in spec.args.values()]
    keyword = {k: _as(case, v, dtype) for k, v in spec.keyword_arrays.items()}
    fn = getattr(xloss.grad, spec.name)
    return case.call(fn, *args, **spec.options, **keyword, **extra)


def _tolerance(dtype: str, expected: np.ndarray) -> dict[str, float]:
    if dtype == "float64":
        return {"rtol": 1e-11, "atol": 1e-14 * (1 + float(np.max(np.abs(expected), initial=0)))}
    return {"rtol": 2e-5, "atol": 2e-6 * (1 + float(np.max(np.abs(expected), initial=0)))}


# -- the option combinations -----------------------------------------------------------------

C = 4
LOGITS = {
    "C": RNG.normal(size=(C,)) * 2,
    "NC": RNG.normal(size=(6, C)) * 2,
    "NCd": RNG.normal(size=(3, C, 2, 3)) * 2,
}
CLASS_WEIGHT = RNG.uniform(0.2, 2.0, size=C)
NEGATIVE_WEIGHT = np.array([0.5, -1.0, 2.0, 1.5])


def _labels(shape: tuple[int, ...]) -> np.ndarray:
    labels = RNG.integers(0, C, size=shape)
    return labels


def _soft_labels(shape: tuple[int, ...], axis: int) -> np.ndarray:
    raw = RNG.uniform(size=shape)
    return raw / raw.sum(axis=axis, keepdims=True)


def _class_axis(x: np.ndarray) -> int:
    return 1 if x.ndim >= 2 else 0


def _with_ignored(labels: np.ndarray, ignore: int) -> np.ndarray:
    labels = labels.copy()
    flat = labels.reshape(-1)
    flat[:: max(len(flat) // 3, 1)] = ignore
    return labels


def _ce_reference(
    options: dict[str, Any], weight: bool, axis: int | None = None
) -> Callable[..., Any]:
    base = options.get("base")
    torch_options = {
        k: v for k, v in options.items() if k in ("ignore_index", "reduction", "label_smoothing")
    }

    def reference(input: Any, target: Any, weight_: Any = None, **kw: Any) -> Any:
        w = kw.get("weight", weight_)
        if axis is not None:
            input = torch.movedim(input, axis, 1)
            if target.dtype.is_floating_point:
                target = torch.movedim(target, axis, 1)
        out = F.cross_entropy(input, target, w, **torch_options)
        return out / math.log(base) if base else out

    return reference


def _classification_specs() -> list[Spec]:
    specs: list[Spec] = []
    for reduction in REDUCTIONS:
        for shape_name, x in LOGITS.items():
            axis = _class_axis(x)
            index_shape = x.shape[:axis] + x.shape[axis + 1 :]
            index = _labels(index_shape)
            soft = _soft_labels(x.shape, axis)
            for kind, target in (("index", index), ("prob", soft)):
                variants: list[tuple[str, dict[str, Any], np.ndarray | None, np.ndarray]] = [
                    ("plain", {}, None, target),
                ]
                if shape_name == "NCd" or (shape_name == "NC" and reduction == "mean"):
                    variants += [
                        ("weight", {}, CLASS_WEIGHT, target),
                        ("negweight", {}, NEGATIVE_WEIGHT, target),
                        ("smooth", {"label_smoothing": 0.2}, None, target),
                        ("smooth-weight", {"label_smoothing": 0.3}, CLASS_WEIGHT, target),
                        ("base2", {"base": 2.0}, None, target),
                    ]
                    if kind == "index":
                        variants += [
                            ("ignore", {}, None, _with_ignored(target, -100)),
                            ("ignore1", {"ignore_index": 1}, None, _with_ignored(target, 1)),
                            (
                                "smooth-weight-ignore",
                                {"label_smoothing": 0.25, "ignore_index": 2},
                                CLASS_WEIGHT,
                                _with_ignored(target, 2),
                            ),
                        ]
                for label, extra, weight, tgt in variants:
                    options = {"reduction": reduction, **extra}
                    args = {"input": x, "target": tgt}
                    if weight is not None:
                        args["weight"] = weight
                    specs.append(
                        Spec(
                            "cross_entropy",
                            f"{reduction}-{shape_name}-{kind}-{label}",
                            args,
                            _ce_reference(options, weight is not None),
                            options,
                        )
                    )
        # the (batch, ..., classes) layout through axis=-1
        x = np.moveaxis(LOGITS["NCd"], 1, -1)
        for kind, target in (
            ("index", _labels(x.shape[:-1])),
            ("prob", _soft_labels(x.shape, -1)),
        ):
            options = {"reduction": reduction, "axis": -1, "label_smoothing": 0.1}
            specs.append(
                Spec(
                    "cross_entropy",
                    f"{reduction}-axis-1-{kind}",
                    {"input": x, "target": target, "weight": CLASS_WEIGHT},
                    _ce_reference(options, True, axis=-1),
                    options,
                )
            )
        # nll_loss on log-probabilities
        for shape_name in ("C", "NC", "NCd"):
            x = LOGITS[shape_name]
            axis = _class_axis(x)
            log_p = x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))
            target = _with_ignored(_labels(x.shape[:axis] + x.shape[axis + 1 :]), 3)
            for label, weight, extra in (
                ("plain", None, {}),
                ("weight-ignore3", CLASS_WEIGHT, {"ignore_index": 3}),
                ("base2", None, {"base": 2.0}),
            ):
                options = {"reduction": reduction, **extra}
                torch_options = {k: v for k, v in options.items() if k != "base"}
                args = {"input": log_p, "target": target}
                if weight is not None:
                    args["weight"] = weight

                nll_base = extra.get("base")

                def nll(*, _o=torch_options, _b=nll_base, **t: Any) -> Any:
                    out = F.nll_loss(t["input"], t["target"], t.get("weight"), **_o)
                    return out / math.log(_b) if _b else out

                specs.append(
                    Spec("nll_loss", f"{reduction}-{shape_name}-{label}", args, nll, options)
                )
        specs += _binary_specs(reduction)
    return specs


BINARY_SHAPE = (5, 3)
B_LOGITS = RNG.normal(size=BINARY_SHAPE) * 3
B_PROBS = RNG.uniform(0.02, 0.98, size=BINARY_SHAPE)
B_TARGET = RNG.uniform(size=BINARY_SHAPE)
B_HARD = RNG.integers(0, 2, size=BINARY_SHAPE).astype(np.float64)
B_WEIGHT = RNG.uniform(0.2, 2.0, size=BINARY_SHAPE)
B_ROW_WEIGHT = RNG.uniform(0.2, 2.0, size=(BINARY_SHAPE[1],))
POS_WEIGHT = np.array([0.5, 2.0, 3.0])
SIGNS = np.where(RNG.uniform(size=BINARY_SHAPE) < 0.5, -1.0, 1.0)


def _focal_reference(alpha: float, gamma: float, reduction: str) -> Callable[..., Any]:
    """torchvision.ops.sigmoid_focal_loss, written out (torchvision is not installed here)."""

    def reference(input: Any, target: Any) -> Any:
        p = torch.sigmoid(input)
        ce = F.binary_cross_entropy_with_logits(input, target, reduction="none")
        p_t = p * target + (1 - p) * (1 - target)
        loss = ce * ((1 - p_t) ** gamma)
        if alpha >= 0:
            loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
        if reduction == "mean":
            return loss.mean()
        return loss.sum() if reduction == "sum" else loss

    return reference


def _binary_specs(reduction: str) -> list[Spec]:
    specs = []
    for label, target, weight, base in (
        ("soft", B_TARGET, None, None),
        ("hard-weight", B_HARD, B_WEIGHT, None),
        ("rowweight-base2", B_TARGET, B_ROW_WEIGHT, 2.0),
    ):
        options: dict[str, Any] = {"reduction": reduction}
        if base:
            options["base"] = base
        args = {"input": B_PROBS, "target": target}
        if weight is not None:
            args["weight"] = weight

        def bce(*, _r=reduction, _b=base, **t: Any) -> Any:
            out = F.binary_cross_entropy(t["input"], t["target"], t.get("weight"), reduction=_r)
            return out / math.log(_b) if _b else out

        specs.append(Spec("binary_cross_entropy", f"{reduction}-{label}", args, bce, options))
        for pos in (None, POS_WEIGHT):
            args = {"input": B_LOGITS, "target": target}
            if weight is not None:
                args["weight"] = weight
            keyword = {} if pos is None else {"pos_weight": pos}

            def bcel(*, _r=reduction, _b=base, **t: Any) -> Any:
                out = F.binary_cross_entropy_with_logits(
                    t["input"],
                    t["target"],
                    t.get("weight"),
                    reduction=_r,
                    pos_weight=t.get("pos_weight"),
                )
                return out / math.log(_b) if _b else out

            specs.append(
                Spec(
                    "binary_cross_entropy_with_logits",
                    f"{reduction}-{label}-pos{pos is not None}",
                    args,
                    bcel,
                    options,
                    keyword,
                )
            )
    # kl_div: log-probability input, probability or log-probability target
    log_q = np.log(_soft_labels(BINARY_SHAPE, 1))
    p = _soft_labels(BINARY_SHAPE, 1)
    p[0, 1] = 0.0  # 0 log 0
    for kl_reduction in (reduction, "batchmean") if reduction == "mean" else (reduction,):
        for log_target, target in ((False, p), (True, np.log(_soft_labels(BINARY_SHAPE, 1)))):
            options = {"reduction": kl_reduction, "log_target": log_target}

            def kl(*, _o=options, **t: Any) -> Any:
                return F.kl_div(t["input"], t["target"], **_o)

            specs.append(
                Spec(
                    "kl_div",
                    f"{kl_reduction}-log_target{log_target}",
                    {"input": log_q, "target": target},
                    kl,
                    options,
                )
            )
    specs.append(
        Spec(
            "kl_div",
            f"{reduction}-base2",
            {"input": log_q, "target": p},
            lambda *, _r=reduction, **t: (
                F.kl_div(t["input"], t["target"], reduction=_r) / math.log(2.0)
            ),
            {"reduction": reduction, "base": 2.0},
        )
    )
    specs.append(
        Spec(
            "soft_margin_loss",
            reduction,
            {"input": B_LOGITS, "target": SIGNS},
            lambda *, _r=reduction, **t: F.soft_margin_loss(t["input"], t["target"], reduction=_r),
            {"reduction": reduction},
        )
    )
    for label, weight in (("plain", None), ("weight", B_ROW_WEIGHT)):
        args = {"input": B_LOGITS, "target": B_HARD}
        if weight is not None:
            args["weight"] = weight
        specs.append(
            Spec(
                "multilabel_soft_margin_loss",
                f"{reduction}-{label}",
                args,
                lambda *, _r=reduction, **t: F.multilabel_soft_margin_loss(
                    t["input"], t["target"], t.get("weight"), reduction=_r
                ),
                {"reduction": reduction},
            )
        )
    for alpha, gamma, target in ((0.25, 2.0, B_HARD), (-1.0, 1.5, B_TARGET), (0.6, 0.0, B_HARD)):
        options = {"alpha": alpha, "gamma": gamma, "reduction": reduction}
        specs.append(
            Spec(
                "sigmoid_focal_loss",
                f"{reduction}-a{alpha}-g{gamma}",
                {"input": B_LOGITS, "target": target},
                _focal_reference(alpha, gamma, reduction),
                options,
            )
        )
    return specs


# -- regression -------------------------------------------------------------------------------

R_SHAPE = (5, 4)
R_INPUT = RNG.normal(size=R_SHAPE) * 2.0
R_TARGET = R_INPUT + RNG.normal(size=R_SHAPE) * np.array([0.1, 0.7, 1.5, 4.0])
R_WEIGHT = RNG.uniform(0.1, 2.0, size=R_SHAPE)
R_VAR = np.abs(RNG.normal(size=R_SHAPE)) * 10.0 ** RNG.integers(-8, 2, size=R_SHAPE)
R_COUNTS = RNG.poisson(3.0, size=R_SHAPE).astype(np.float64)
R_COUNTS[0, :] = [0.0, 1.0, 2.0, 1.5]
R_RATES = np.exp(RNG.normal(size=R_SHAPE))


def _regression_specs() -> list[Spec]:
    specs = []
    for reduction in REDUCTIONS:

        def simple(
            name: str, label: str, args: dict[str, np.ndarray], _r: str = reduction, **options: Any
        ) -> Spec:
            all_options = {**options, "reduction": _r}

            def reference(*, _n=name, _o=all_options, **t: Any) -> Any:
                positional = [t[k] for k in args if k != "weight"]
                keyword = {"weight": t["weight"]} if "weight" in t else {}
                return getattr(F, _n)(*positional, **_o, **keyword)

            keyword_arrays = {"weight": args["weight"]} if "weight" in args else {}
            positional = {k: v for k, v in args.items() if k != "weight"}
            return Spec(name, f"{_r}-{label}", positional, reference, all_options, keyword_arrays)

        xt = {"input": R_INPUT, "target": R_TARGET}
        specs += [
            simple("mse_loss", "plain", xt),
            simple("l1_loss", "plain", xt),
            simple("huber_loss", "d1", xt, delta=1.0),
            simple("huber_loss", "d0.3", xt, delta=0.3),
            simple("smooth_l1_loss", "b1", xt, beta=1.0),
            simple("smooth_l1_loss", "b2.5", xt, beta=2.5),
            simple("smooth_l1_loss", "b0", xt, beta=0.0),
            simple("poisson_nll_loss", "log", {"input": R_INPUT, "target": R_COUNTS}),
            simple(
                "poisson_nll_loss", "log-full", {"input": R_INPUT, "target": R_COUNTS}, full=True
            ),
            simple(
                "poisson_nll_loss", "rate", {"input": R_RATES, "target": R_COUNTS}, log_input=False
            ),
            simple(
                "poisson_nll_loss",
                "rate-full-eps",
                {"input": R_RATES, "target": R_COUNTS},
                log_input=False,
                full=True,
                eps=1e-3,
            ),
            simple("mse_loss", "broadcast-target", {"input": R_INPUT, "target": R_TARGET[:1]}),
        ]
        if hasattr(F, "mse_loss") and "weight" in F.mse_loss.__code__.co_varnames:
            xtw = {**xt, "weight": R_WEIGHT}
            specs += [
                simple("mse_loss", "weight", xtw),
                simple("l1_loss", "weight", xtw),
                simple("huber_loss", "weight-d0.5", xtw, delta=0.5),
            ]
        for label, var, options in (
            ("full-var", R_VAR, {}),
            ("full-var-eps", R_VAR, {"full": True, "eps": 1e-3}),
            ("var-one-short", R_VAR[:, 0], {}),
            ("var-col", R_VAR[:, :1], {"full": True}),
            ("var-row", R_VAR[:1, :], {}),
        ):
            specs.append(
                Spec(
                    "gaussian_nll_loss",
                    f"{reduction}-{label}",
                    {"input": R_INPUT, "target": R_TARGET, "var": var},
                    lambda *, _o={**options, "reduction": reduction}, **t: F.gaussian_nll_loss(
                        t["input"], t["target"], t["var"], **_o
                    ),
                    {**options, "reduction": reduction},
                    wrt=("input", "var"),
                )
            )
    # log_cosh has no torch.nn.functional counterpart: its torch reference is the formula.
    for reduction in REDUCTIONS:

        def log_cosh(*, _r=reduction, **t: Any) -> Any:
            loss = torch.log(torch.cosh(t["input"] - t["target"]))
            return loss.mean() if _r == "mean" else loss.sum() if _r == "sum" else loss

        specs.append(
            Spec(
                "log_cosh_loss",
                reduction,
                {"input": R_INPUT, "target": R_TARGET},
                log_cosh,
                {"reduction": reduction},
            )
        )
    return specs


SPECS = _classification_specs() + _regression_specs()


def _public_value(spec: Spec, dtype: str) -> np.ndarray | None:
    public = getattr(xloss, spec.name, None)
    if public is None:
        return None
    args = [v.astype(dtype) if v.dtype.kind == "f" else v for v in spec.args.values()]
    keyword = {k: v.astype(dtype) for k, v in spec.keyword_arrays.items()}
    return np.asarray(public(*args, **spec.options, **keyword))


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_value_and_gradient_match_torch_autograd(case: Case, spec: Spec) -> None:
    dtype = "float64" if case.float64 else "float32"
    value, grads = torch_reference(spec, dtype)
    out = run_grad(case, spec, dtype)
    assert len(out) == 1 + len(spec.wrt)
    assert_result(case, out[0], value, dtype=dtype, **_tolerance(dtype, value))
    for got, expected in zip(out[1:], grads, strict=True):
        assert_result(case, got, expected, dtype=dtype, **_tolerance(dtype, expected))
    public = _public_value(spec, dtype) if case.library == "numpy" else None
    if public is not None:  # the value is the public loss's own, bit for bit
        np.testing.assert_array_equal(case.to_numpy(out[0]), public)


SMALL = [
    s
    for s in SPECS
    if s.name != "cross_entropy" or "-NCd-" not in s.id  # Hessians of 72 x 72 are plenty
]


@pytest.mark.parametrize("spec", SMALL, ids=[s.id for s in SMALL])
def test_hessian_diagonal_matches_torch(case: Case, spec: Spec) -> None:
    dtype = "float64" if case.float64 else "float32"
    expected = torch_hessian_diagonal(spec)
    out = run_grad(case, spec, dtype, hessian=True)
    assert len(out) == 2 + len(spec.wrt)
    tolerance = _tolerance(dtype, expected)
    if spec.name == "binary_cross_entropy":  # torch's double backward rounds differently
        tolerance["rtol"] = max(tolerance["rtol"], 1e-9)
    assert_result(case, out[-1], expected, dtype=dtype, **tolerance)


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_gradient_matches_jax_grad_of_the_loss(spec: Spec) -> None:
    """``jax.grad`` of the xloss loss itself (the generic definition traced by JAX)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    public = getattr(xloss, spec.name, None)
    if public is None:
        pytest.skip(f"xloss.{spec.name} is not defined yet")
    args = {k: jnp.asarray(v) for k, v in spec.args.items()}
    keyword = {k: jnp.asarray(v) for k, v in spec.keyword_arrays.items()}
    names = list(args)
    argnums = tuple(names.index(k) for k in spec.wrt)

    def total(*values: Any) -> Any:
        return jnp.sum(public(*values, **spec.options, **keyword))

    expected = jax.grad(total, argnums=argnums)(*args.values())
    out = xloss.grad.__dict__[spec.name](*args.values(), **spec.options, **keyword)
    for got, want in zip(out[1:], expected, strict=True):
        want = np.asarray(want)
        np.testing.assert_allclose(np.asarray(got), want, **_tolerance("float64", want))


# -- properties --------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


@settings(max_examples=60, deadline=None)
@given(
    n=hs.integers(1, 6),
    classes=hs.integers(2, 6),
    seed=hs.integers(0, 2**32 - 1),
    weighted=hs.booleans(),
    reduction=hs.sampled_from(REDUCTIONS),
)
def test_index_cross_entropy_gradient_is_softmax_minus_onehot(
    n: int, classes: int, seed: int, weighted: bool, reduction: str
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, classes)) * 5
    y = rng.integers(0, classes, size=n)
    y[rng.uniform(size=n) < 0.3] = -100
    y[0] = 0  # at least one kept target
    w = rng.uniform(0.1, 3.0, size=classes) if weighted else np.ones(classes)
    kept = (y != -100).astype(float)
    w_y = w[np.where(y >= 0, y, 0)] * kept
    onehot = np.eye(classes)[np.where(y >= 0, y, 0)]
    expected = (_softmax(x, 1) - onehot) * w_y[:, None]
    if reduction == "mean":
        expected = expected / w_y.sum()
    _, gradient, hessian = xloss.grad.cross_entropy(
        x, y, w if weighted else None, reduction=reduction, hessian=True
    )
    np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-15)
    p = _softmax(x, 1)
    scale = w_y[:, None] / (w_y.sum() if reduction == "mean" else 1.0)
    np.testing.assert_allclose(hessian, p * (1 - p) * scale, rtol=1e-12, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(
    shape=hs.sampled_from([(3,), (4, 3), (2, 3, 4)]),
    seed=hs.integers(0, 2**32 - 1),
    smoothing=hs.sampled_from([0.0, 0.1, 1.0]),
    probabilities=hs.booleans(),
)
def test_unweighted_cross_entropy_gradients_sum_to_zero_over_classes(
    shape: tuple[int, ...], seed: int, smoothing: float, probabilities: bool
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape) * 10
    axis = 1 if len(shape) >= 2 else 0
    if probabilities:
        target = _softmax(rng.normal(size=shape), axis)
    else:
        target = rng.integers(0, shape[axis], size=shape[:axis] + shape[axis + 1 :])
    _, gradient = xloss.grad.cross_entropy(x, target, label_smoothing=smoothing, reduction="sum")
    np.testing.assert_allclose(np.sum(gradient, axis=axis), 0.0, atol=1e-14 * gradient.size)


def test_extreme_logits_give_finite_exact_gradients() -> None:
    x = np.array([[1e30, 0.0, -1e30], [-1e300, 1e300, 0.0]])
    y = np.array([0, 0])
    loss, gradient, hessian = xloss.grad.cross_entropy(x, y, reduction="sum", hessian=True)
    np.testing.assert_array_equal(gradient, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] - np.eye(3)[y])
    np.testing.assert_array_equal(hessian, np.zeros((2, 3)))
    assert loss == 2e300
    _, d_logits, h_logits = xloss.grad.binary_cross_entropy_with_logits(
        np.array([-800.0, 800.0]), np.array([1.0, 0.0]), reduction="sum", hessian=True
    )
    np.testing.assert_array_equal(d_logits, [-1.0, 1.0])
    assert np.all(np.isfinite(h_logits))
    _, d_margin = xloss.grad.soft_margin_loss(
        np.array([-1e4, 1e4], dtype=np.float32), np.array([1.0, -1.0], dtype=np.float32)
    )
    np.testing.assert_array_equal(d_margin, np.array([-0.5, 0.5], dtype=np.float32))


def test_bad_labels_raise_where_inspectable_and_give_nan_elsewhere(case: Case) -> None:
    x = RNG.normal(size=(3, 4))
    y = np.array([0, 7, 1])
    args = (case.asarray(x), case.asarray(y))
    if case.library in ("numpy", "array_api_strict") or case.name == "torch":
        with pytest.raises(ValueError, match=r"out of range|class labels"):
            case.call(xloss.grad.cross_entropy, *args)
        return
    _, gradient = case.call(xloss.grad.cross_entropy, *args, reduction="none")
    gradient = case.to_numpy(gradient)
    assert np.all(np.isnan(gradient[1]))
    assert np.all(np.isfinite(gradient[[0, 2]]))


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision_computes_in_float32(case: Case, low: str) -> None:
    try:
        case.dtype(low)
    except (LookupError, AttributeError) as exc:
        pytest.skip(f"{case.name} has no {low}: {exc}")
    x = RNG.normal(size=(5, 3))
    y = RNG.integers(0, 3, size=5)
    x_low = case.asarray(x, low)
    _, gradient = case.call(xloss.grad.cross_entropy, x_low, case.asarray(y))
    assert gradient.dtype == x_low.dtype
    rounded = case.to_numpy(x_low).astype(np.float32)
    _, expected = xloss.grad.cross_entropy(rounded, y)
    np.testing.assert_allclose(case.to_numpy(gradient), expected, rtol=1e-2, atol=1e-3)


def test_options_are_validated_without_touching_data() -> None:
    x, y = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError, match="reduction"):
        xloss.grad.cross_entropy(x, y, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        xloss.grad.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="base"):
        xloss.grad.nll_loss(x, y, base=1.0)
    with pytest.raises(ValueError, match="reduction"):
        xloss.grad.mse_loss(x, x, reduction="batchmean")
