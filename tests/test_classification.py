"""Classification and divergence losses against torch.nn.functional (values and autograd).

Every expected value comes from PyTorch itself (float64 on the CPU), from torchvision's
documented focal-loss formula written out here, or from mpmath; never from xloss.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import xloss
from backends import Case, assert_result

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(3)
C = 5
REDUCTIONS = ["mean", "sum", "none"]

# Logits of each supported layout; class-index targets hold the default ignore_index (-100)
# at some positions and class 2 (used as a custom ignore_index) at others.
SHAPES = {"C": (C,), "NC": (6, C), "NCd": (2, C, 3, 2)}
LOGITS = {k: RNG.normal(size=s) * 3.0 for k, s in SHAPES.items()}
LABELS = {
    "C": np.array(2),
    "NC": np.array([0, 2, -100, 4, 1, 2]),
    "NCd": np.array([[[0, 1], [2, -100], [4, 3]], [[2, 2], [-100, 0], [1, 4]]]),
}
PROBS = {
    "C": RNG.dirichlet(np.ones(C)),
    "NC": RNG.dirichlet(np.ones(C), size=6),
    "NCd": np.moveaxis(RNG.dirichlet(np.ones(C), size=(2, 3, 2)), -1, 1),
}
WEIGHTS = {
    "none": None,
    "positive": RNG.uniform(0.2, 2.0, size=C),
    # PyTorch's own module tests use negative class weights.
    "signed": np.array([0.7, -0.4, 1.3, 2.0, -1.1]),
}
# Every weight kind meets every option (smoothing, custom ignore_index, both, neither) at
# least once per shape: pairs rather than the full product keeps the jit backends quick.
SMOOTH = {"label_smoothing": 0.2}
IGNORE = {"ignore_index": 2}
BOTH = {"ignore_index": 2, "label_smoothing": 0.35}
INDEX_COMBINATIONS = [
    ("none", {}),
    ("none", SMOOTH),
    ("none", BOTH),
    ("positive", {}),
    ("positive", IGNORE),
    ("signed", SMOOTH),
    ("signed", IGNORE),
    ("signed", BOTH),
]


def _combination_id(value) -> str:
    if isinstance(value, dict):
        return "-".join(f"{k}={v}" for k, v in value.items()) or "default"
    return str(value)


def _labels(shape: str, ignore_index: int) -> np.ndarray:
    """The labels, with -100 replaced by a class when another value is ignored (as torch)."""
    labels = LABELS[shape]
    return labels if ignore_index == -100 else np.where(labels == -100, 1, labels)


def _float(case: Case) -> str:
    return "float64" if case.float64 else "float32"


def _tol(case: Case) -> dict[str, float]:
    return {"rtol": 1e-12, "atol": 0.0} if case.float64 else {"rtol": 2e-5, "atol": 2e-6}


def _t(data, dtype=None):
    """A torch tensor of NumPy test data (floats in float64 unless told)."""
    data = np.asarray(data)
    if data.dtype.kind == "f":
        return torch.tensor(data, dtype=dtype or torch.float64)
    return torch.tensor(data)


def _opt(a):
    return None if a is None else _t(a)


def _cast(case: Case, *arrays):
    """Test data rounded to the case's float dtype (so torch sees what xloss sees)."""
    dt = _float(case)
    return [None if a is None else a.astype(dt) if a.dtype.kind == "f" else a for a in arrays]


def _arr(case: Case, a):
    return None if a is None else case.asarray(a)


def _full_grid_only(case: Case, shape: str) -> None:
    """Under jax.jit each call compiles: the jit case runs the richest layout of a grid."""
    if case.jit and shape != "NCd":
        pytest.skip("jax-jit runs the (N, C, d1, d2) layout of this grid; jax runs all of it")


def _call_reductions(case: Case, fn, *args, reductions, **options) -> tuple:
    """``fn`` under every reduction in one ``case.call`` (one jit compile, one Dask check)."""

    def every(*arrays):
        return tuple(fn(*arrays, reduction=r, **options) for r in reductions)

    return case.call(every, *args)


# -- cross_entropy / nll_loss parity ---------------------------------------------------------


@pytest.mark.parametrize(("weight", "options"), INDEX_COMBINATIONS, ids=_combination_id)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_cross_entropy_index_targets_match_torch(case: Case, shape, weight, options) -> None:
    _full_grid_only(case, shape)
    x, w = _cast(case, LOGITS[shape], WEIGHTS[weight])
    y = _labels(shape, options.get("ignore_index", -100))
    outs = _call_reductions(
        case,
        xloss.cross_entropy,
        case.asarray(x),
        case.asarray(y),
        _arr(case, w),
        **options,
        reductions=REDUCTIONS,
    )
    for reduction, out in zip(REDUCTIONS, outs, strict=True):
        expected = F.cross_entropy(_t(x), _t(y), _opt(w), reduction=reduction, **options)
        assert_result(case, out, expected.numpy(), **_tol(case))


@pytest.mark.parametrize(
    ("weight", "label_smoothing"),
    [("none", 0.0), ("positive", 0.25), ("signed", 0.0), ("signed", 0.25)],
)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_cross_entropy_probability_targets_match_torch(
    case: Case, shape, weight, label_smoothing
) -> None:
    _full_grid_only(case, shape)
    x, p, w = _cast(case, LOGITS[shape], PROBS[shape], WEIGHTS[weight])
    outs = _call_reductions(
        case,
        xloss.cross_entropy,
        case.asarray(x),
        case.asarray(p),
        _arr(case, w),
        label_smoothing=label_smoothing,
        reductions=REDUCTIONS,
    )
    for reduction, out in zip(REDUCTIONS, outs, strict=True):
        expected = F.cross_entropy(
            _t(x), _t(p), _opt(w), reduction=reduction, label_smoothing=label_smoothing
        )
        assert_result(case, out, expected.numpy(), **_tol(case))


@pytest.mark.parametrize(
    ("weight", "ignore_index"),
    [("none", -100), ("positive", 2), ("signed", -100), ("signed", 2)],
)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_nll_loss_matches_torch(case: Case, shape, weight, ignore_index) -> None:
    _full_grid_only(case, shape)
    x, w = _cast(case, LOGITS[shape] - 4.0, WEIGHTS[weight])  # any real "log-probabilities"
    y = _labels(shape, ignore_index)
    outs = _call_reductions(
        case,
        xloss.nll_loss,
        case.asarray(x),
        case.asarray(y),
        _arr(case, w),
        ignore_index=ignore_index,
        reductions=REDUCTIONS,
    )
    for reduction, out in zip(REDUCTIONS, outs, strict=True):
        expected = F.nll_loss(_t(x), _t(y), _opt(w), reduction=reduction, ignore_index=ignore_index)
        assert_result(case, out, expected.numpy(), **_tol(case))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_all_ignored_mean_is_nan(case: Case, label_smoothing) -> None:
    x, w = _cast(case, LOGITS["NC"], WEIGHTS["positive"])
    y = np.full(6, -100)
    for weight in (None, w):
        outs = _call_reductions(
            case,
            xloss.cross_entropy,
            case.asarray(x),
            case.asarray(y),
            _arr(case, weight),
            label_smoothing=label_smoothing,
            reductions=REDUCTIONS,
        )
        for reduction, out in zip(REDUCTIONS, outs, strict=True):
            expected = F.cross_entropy(
                _t(x), _t(y), _opt(weight), reduction=reduction, label_smoothing=label_smoothing
            ).numpy()
            if reduction == "mean":
                assert np.isnan(expected)  # the property under test, as PyTorch
            assert_result(case, out, expected, **_tol(case))
    expected = F.nll_loss(_t(x), _t(y)).numpy()
    assert_result(case, case.call(xloss.nll_loss, case.asarray(x), case.asarray(y)), expected)


def test_class_axis_last_equals_transposed_torch(case: Case) -> None:
    """(batch, time, vocab) with axis=-1 equals torch on the (batch, vocab, time) transpose."""
    (x,) = _cast(case, RNG.normal(size=(2, 3, C)) * 2.0)
    w = _cast(case, WEIGHTS["signed"])[0]
    for y, options in (
        (np.array([[0, 4, -100], [2, 2, 1]]), {}),
        (np.array([[0, 4, 3], [2, 2, 1]]), {"label_smoothing": 0.1, "ignore_index": 1}),
    ):
        outs = _call_reductions(
            case,
            xloss.cross_entropy,
            case.asarray(x),
            case.asarray(y),
            case.asarray(w),
            axis=-1,
            **options,
            reductions=REDUCTIONS,
        )
        for reduction, out in zip(REDUCTIONS, outs, strict=True):
            expected = F.cross_entropy(
                _t(x).transpose(1, 2), _t(y), _t(w), reduction=reduction, **options
            )
            assert_result(case, out, expected.numpy(), **_tol(case))
    y = np.array([[0, 4, -100], [2, 2, 1]])
    expected = F.nll_loss(_t(x).transpose(1, 2), _t(y), reduction="none")
    out = case.call(xloss.nll_loss, case.asarray(x), case.asarray(y), axis=2, reduction="none")
    assert_result(case, out, expected.numpy(), **_tol(case))


def test_base_two_is_nats_over_ln2(case: Case) -> None:
    x, p = _cast(case, LOGITS["NC"], PROBS["NC"])
    y = LABELS["NC"]
    ln2 = math.log(2.0)
    checks = [
        (xloss.cross_entropy, (x, y), F.cross_entropy(_t(x), _t(y))),
        (xloss.cross_entropy, (x, p), F.cross_entropy(_t(x), _t(p))),
        (xloss.nll_loss, (x, y), F.nll_loss(_t(x), _t(y))),
        (xloss.kl_div, (x, p), F.kl_div(_t(x), _t(p), reduction="sum")),
        (
            xloss.binary_cross_entropy_with_logits,
            (x, p),
            F.binary_cross_entropy_with_logits(_t(x), _t(p)),
        ),
        (xloss.binary_cross_entropy, (p, p), F.binary_cross_entropy(_t(p), _t(p))),
    ]
    for fn, args, expected in checks:
        kwargs = {"reduction": "sum"} if fn is xloss.kl_div else {}
        out = case.call(fn, *[case.asarray(a) for a in args], base=2, **kwargs)
        assert_result(case, out, expected.numpy() / ln2, **_tol(case))


# -- binary family, KL, soft margin, focal ---------------------------------------------------

BX = RNG.normal(size=(6, 4)) * 3.0
BT = RNG.uniform(size=(6, 4))
BT[0] = [0.0, 1.0, 0.0, 1.0]
# Probabilities at and near the ends: exercises the -100 log clamp (log(1e-50) < -100).
BP = RNG.uniform(0.02, 0.98, size=(6, 4))
BP[0] = [0.0, 1.0, 1e-50, 1.0 - 1e-16]
BW = RNG.uniform(0.1, 2.0, size=(6, 4))


@pytest.mark.parametrize("weight", [None, "row", "full"])
def test_binary_cross_entropy_matches_torch(case: Case, weight) -> None:
    w = {None: None, "row": BW[0], "full": BW}[weight]
    p, t, w = _cast(case, BP, BT, w)
    outs = _call_reductions(
        case,
        xloss.binary_cross_entropy,
        case.asarray(p),
        case.asarray(t),
        _arr(case, w),
        reductions=REDUCTIONS,
    )
    for reduction, out in zip(REDUCTIONS, outs, strict=True):
        expected = F.binary_cross_entropy(_t(p), _t(t), _opt(w), reduction=reduction)
        assert_result(case, out, expected.numpy(), **_tol(case))


def test_binary_cross_entropy_log_clamp_at_minus_100(case: Case) -> None:
    p, t = np.array([0.0, 1.0, 1e-300]), np.array([1.0, 0.0, 1.0])
    p, t = _cast(case, p, t)
    expected = F.binary_cross_entropy(_t(p), _t(t), reduction="none").numpy()
    assert expected[0] == 100.0  # the clamp, in PyTorch
    out = case.call(xloss.binary_cross_entropy, case.asarray(p), case.asarray(t), reduction="none")
    assert_result(case, out, expected, **_tol(case))


@pytest.mark.parametrize("pos_weight", [None, "class", "full"])
@pytest.mark.parametrize("weight", [None, "class", "full"])
def test_bce_with_logits_matches_torch(case: Case, weight, pos_weight) -> None:
    w = {None: None, "class": BW[1], "full": BW}[weight]
    pw = {None: None, "class": np.array([0.5, 1.0, 3.0, 10.0]), "full": BW[::-1] * 2}[pos_weight]
    x, t, w, pw = _cast(case, BX, BT, w, pw)
    outs = _call_reductions(
        case,
        xloss.binary_cross_entropy_with_logits,
        case.asarray(x),
        case.asarray(t),
        _arr(case, w),
        pos_weight=_arr(case, pw),
        reductions=REDUCTIONS,
    )
    for reduction, out in zip(REDUCTIONS, outs, strict=True):
        expected = F.binary_cross_entropy_with_logits(
            _t(x), _t(t), _opt(w), reduction=reduction, pos_weight=_opt(pw)
        )
        assert_result(case, out, expected.numpy(), **_tol(case))


KL_Q = RNG.dirichlet(np.ones(4), size=6)
KL_P = RNG.dirichlet(np.ones(4), size=6)
KL_P[0] = [0.0, 0.5, 0.5, 0.0]  # zero target probabilities: 0 log 0 = 0


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(case: Case, log_target: bool) -> None:
    with np.errstate(divide="ignore"):
        target = np.log(KL_P) if log_target else KL_P
    x, t = _cast(case, np.log(KL_Q), target)
    outs = _call_reductions(
        case,
        xloss.kl_div,
        case.asarray(x),
        case.asarray(t),
        log_target=log_target,
        reductions=[*REDUCTIONS, "batchmean"],
    )
    for reduction, out in zip([*REDUCTIONS, "batchmean"], outs, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about its "mean"
            expected = F.kl_div(_t(x), _t(t), reduction=reduction, log_target=log_target)
        assert_result(case, out, expected.numpy(), **_tol(case))
    # 1-D input and broadcast target
    x1, t1 = x[0], t[:1]
    expected = F.kl_div(_t(x1), _t(t1), reduction="batchmean", log_target=log_target)
    out = case.call(
        xloss.kl_div,
        case.asarray(x1),
        case.asarray(t1),
        reduction="batchmean",
        log_target=log_target,
    )
    assert_result(case, out, expected.numpy(), **_tol(case))


def test_soft_margin_matches_torch(case: Case) -> None:
    y = np.where(BT > 0.5, 1.0, -1.0)
    x, y = _cast(case, BX, y)
    outs = _call_reductions(
        case,
        xloss.soft_margin_loss,
        case.asarray(x),
        case.asarray(y),
        reductions=REDUCTIONS,
    )
    for reduction, out in zip(REDUCTIONS, outs, strict=True):
        expected = F.soft_margin_loss(_t(x), _t(y), reduction=reduction)
        assert_result(case, out, expected.numpy(), **_tol(case))


def test_soft_margin_is_stable_where_torch_overflows(case: Case) -> None:
    """-y x = 100 overflows torch's log1p(exp(-y x)) in float32; the value is 100."""
    x = np.array([-100.0, 100.0, 3e38, -3e38], dtype=np.float32)
    y = np.array([1.0, -1.0, -1.0, 1.0], dtype=np.float32)
    torch32 = F.soft_margin_loss(_t(x, torch.float32), _t(y, torch.float32), reduction="none")
    assert torch.isinf(torch32[0])  # the overflow this test is about
    # float64 reference: log(1 + e^{-y x}) as NumPy's logaddexp (no overflow for any x)
    reference = np.logaddexp(0.0, -y.astype(np.float64) * x.astype(np.float64))
    out = case.call(
        xloss.soft_margin_loss,
        case.asarray(x, "float32"),
        case.asarray(y, "float32"),
        reduction="none",
    )
    assert_result(case, out, reference, dtype="float32", rtol=1e-6)


@pytest.mark.parametrize("weight", [None, "class"])
@pytest.mark.parametrize("ndim", [1, 2])
def test_multilabel_soft_margin_matches_torch(case: Case, ndim: int, weight) -> None:
    t = (BT > 0.5).astype(np.float64)
    x, t, w = _cast(case, BX, t, BW[2] if weight else None)
    if ndim == 1:
        x, t = x[1], t[1]
    outs = _call_reductions(
        case,
        xloss.multilabel_soft_margin_loss,
        case.asarray(x),
        case.asarray(t),
        _arr(case, w),
        reductions=REDUCTIONS,
    )
    for reduction, out in zip(REDUCTIONS, outs, strict=True):
        expected = F.multilabel_soft_margin_loss(_t(x), _t(t), _opt(w), reduction=reduction)
        assert_result(case, out, expected.numpy(), **_tol(case))


def _torchvision_focal(x, t, alpha: float, gamma: float, reduction: str):
    """torchvision.ops.sigmoid_focal_loss, written out from its documented definition."""
    p = torch.sigmoid(x)
    ce_loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * t + (1 - alpha) * (1 - t)
        loss = alpha_t * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


FOCAL_OPTIONS = [
    {},
    {"alpha": -1.0, "gamma": 2.0},
    {"alpha": 0.5, "gamma": 0.0},
    {"alpha": 0.75, "gamma": 1.5},
]


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("options", FOCAL_OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
def test_sigmoid_focal_matches_torchvision(case: Case, options, soft: bool) -> None:
    t = BT if soft else (BT > 0.5).astype(np.float64)
    x, t = _cast(case, BX, t)
    full = {"alpha": 0.25, "gamma": 2.0, **options}
    # torchvision's 1 - p_t cancels for confident predictions (|x| up to 10 here): a
    # relative error of up to ~1e-11 in float64 is the reference's, not ours.
    tol = {"rtol": 1e-10, "atol": 0.0} if case.float64 else {"rtol": 1e-4, "atol": 1e-6}
    outs = _call_reductions(
        case,
        xloss.sigmoid_focal_loss,
        case.asarray(x),
        case.asarray(t),
        **options,
        reductions=("none", "mean", "sum"),
    )
    for reduction, out in zip(("none", "mean", "sum"), outs, strict=True):
        expected = _torchvision_focal(_t(x), _t(t), reduction=reduction, **full)
        assert_result(case, out, expected.numpy(), **tol)


def test_sigmoid_focal_confident_predictions_keep_their_loss(case: Case) -> None:
    """Where torchvision's 1 - p_t rounds to 0, the loss is the exact tiny value (mpmath)."""
    mpmath = pytest.importorskip("mpmath")
    x = np.array([40.0, -40.0, 20.0])
    t = np.array([1.0, 0.0, 1.0])
    expected = []
    with mpmath.workdps(50):
        for xi, ti in zip(x, t, strict=True):
            p = 1 / (1 + mpmath.exp(-mpmath.mpf(xi)))
            ce = -(ti * mpmath.log(p) + (1 - ti) * mpmath.log(1 - p))
            p_t = p * ti + (1 - p) * (1 - ti)
            expected.append(float((0.25 * ti + 0.75 * (1 - ti)) * ce * (1 - p_t) ** 2))
    expected = np.asarray(expected).astype(_float(case))  # float32 underflows e^-80
    out = case.call(xloss.sigmoid_focal_loss, case.asarray(x), case.asarray(t))
    assert_result(case, out, expected, rtol=1e-12 if case.float64 else 1e-5, atol=0.0)
    assert (case.to_numpy(out) == 0).sum() == (expected == 0).sum()


# -- gradients -------------------------------------------------------------------------------


def _grads(case: Case, fn, arrays: list, grad_of: tuple[int, ...], **options) -> list[np.ndarray]:
    """xloss's gradients of sum(fn(*arrays)) in the case's autograd (torch or jax.grad)."""
    if case.library == "torch":
        tensors = [case.asarray(a) for a in arrays]
        for i in grad_of:
            tensors[i].requires_grad_(True)
        out = fn(*tensors, **options)
        grads = torch.autograd.grad(out.sum(), [tensors[i] for i in grad_of])
        return [case.to_numpy(g) for g in grads]
    import jax

    grad = jax.grad(lambda *a: fn(*a, **options).sum(), argnums=grad_of)
    if case.jit:
        grad = jax.jit(grad)
    return [np.asarray(g) for g in grad(*[case.asarray(a) for a in arrays])]


def _torch_grads(fn, arrays: list, grad_of: tuple[int, ...], **options) -> list[np.ndarray]:
    tensors = [_t(a) for a in arrays]
    for i in grad_of:
        tensors[i].requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*tensors, **options)
    return [g.numpy() for g in torch.autograd.grad(out.sum(), [tensors[i] for i in grad_of])]


GRADIENT_CASES = [
    (
        "ce-index",
        xloss.cross_entropy,
        F.cross_entropy,
        [LOGITS["NCd"], _labels("NCd", 2), WEIGHTS["signed"]],
        (0,),
        {"label_smoothing": 0.2, "ignore_index": 2},
    ),
    (
        "ce-index-plain",
        xloss.cross_entropy,
        F.cross_entropy,
        [LOGITS["NC"], LABELS["NC"]],
        (0,),
        {},
    ),
    (
        "ce-probs",
        xloss.cross_entropy,
        F.cross_entropy,
        [LOGITS["NC"], PROBS["NC"], WEIGHTS["positive"]],
        (0, 1),
        {"label_smoothing": 0.1},
    ),
    (
        "nll",
        xloss.nll_loss,
        F.nll_loss,
        [LOGITS["NC"], LABELS["NC"], WEIGHTS["positive"]],
        (0,),
        {},
    ),
    (
        "bce",
        xloss.binary_cross_entropy,
        F.binary_cross_entropy,
        [BP[1:], BT[1:], BW[1:]],
        (0, 1),
        {},
    ),
    (
        "bce-logits",
        xloss.binary_cross_entropy_with_logits,
        F.binary_cross_entropy_with_logits,
        [BX, BT, BW],
        (0, 1),
        {"pos_weight": np.array([0.5, 1.0, 3.0, 10.0])},
    ),
    (
        "kl",
        xloss.kl_div,
        F.kl_div,
        [np.log(KL_Q), KL_Q[::-1].copy()],
        (0, 1),
        {"reduction": "batchmean"},
    ),
    (
        "kl-log",
        xloss.kl_div,
        F.kl_div,
        [np.log(KL_Q), np.log(KL_Q[::-1])],
        (0, 1),
        {"log_target": True},
    ),
    (
        "soft-margin",
        xloss.soft_margin_loss,
        F.soft_margin_loss,
        [BX, np.where(BT > 0.5, 1.0, -1.0)],
        (0,),
        {},
    ),
    (
        "multilabel",
        xloss.multilabel_soft_margin_loss,
        F.multilabel_soft_margin_loss,
        [BX, BT, BW[0]],
        (0, 1),
        {},
    ),
]


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("entry", GRADIENT_CASES, ids=[e[0] for e in GRADIENT_CASES])
def test_gradients_match_torch(case: Case, entry, reduction: str) -> None:
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    _, fn, torch_fn, arrays, grad_of, options = entry
    options = {"reduction": reduction, **options}
    if "pos_weight" in options:
        expected = _torch_grads(
            torch_fn, arrays, grad_of, **{**options, "pos_weight": _t(options["pos_weight"])}
        )
        got = _grads(
            case,
            fn,
            arrays,
            grad_of,
            **{**options, "pos_weight": case.asarray(options["pos_weight"])},
        )
    else:
        expected = _torch_grads(torch_fn, arrays, grad_of, **options)
        got = _grads(case, fn, arrays, grad_of, **options)
    for i, g, e in zip(grad_of, got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-11, atol=1e-14, err_msg=f"argument {i}")


def test_focal_gradient_matches_torchvision_formula(case: Case) -> None:
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    x = np.clip(BX, -6.0, 6.0)  # where the written-out reference has no cancellation
    expected = _torch_grads(
        lambda a, b: _torchvision_focal(a, b, 0.25, 2.0, "sum"), [x, BT], (0, 1)
    )
    got = _grads(case, xloss.sigmoid_focal_loss, [x, BT], (0, 1), reduction="sum")
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-13)


def test_ignored_positions_get_zero_gradient(case: Case) -> None:
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    x, y = LOGITS["NC"], LABELS["NC"]
    (g,) = _grads(case, xloss.cross_entropy, [x, y, WEIGHTS["signed"]], (0,), label_smoothing=0.3)
    assert np.all(g[y == -100] == 0.0)
    assert np.all(np.isfinite(g))
    assert np.all(g[y != -100] != 0.0)


def test_bce_gradient_at_zero_and_one_is_torchs(case: Case) -> None:
    """PyTorch's backward divides by max(p (1 - p), 1e-12): large and finite, not NaN or 0."""
    if not case.autograd:
        pytest.skip(f"{case.name} has no autograd")
    p, t = np.array([0.0, 1.0, 0.0, 0.5]), np.array([1.0, 0.0, 0.0, 1.0])
    expected = _torch_grads(F.binary_cross_entropy, [p, t], (0, 1), reduction="sum")
    got = _grads(case, xloss.binary_cross_entropy, [p, t], (0, 1), reduction="sum")
    assert abs(expected[0][0]) > 1e11
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    # d/dt is log(1 - p) - log(p): PyTorch's infinity at p = 0 or 1 becomes the clamped,
    # finite difference (+-100); elsewhere it is PyTorch's.
    np.testing.assert_allclose(got[1][3:], expected[1][3:], rtol=1e-12)
    np.testing.assert_array_equal(got[1][:3], [100.0, -100.0, 100.0])
    assert np.isinf(expected[1][:3]).all()


# -- torch specifics: compile, meta ------------------------------------------------------------


def test_torch_compile_fullgraph_cross_entropy() -> None:
    torch._dynamo.reset()
    fn = torch.compile(
        lambda x, y, w: xloss.cross_entropy(x, y, w, label_smoothing=0.1, ignore_index=2),
        fullgraph=True,
        backend="eager",
    )
    x, y, w = _t(LOGITS["NCd"]), _t(_labels("NCd", 2)), _t(WEIGHTS["signed"])
    expected = F.cross_entropy(x, y, w, label_smoothing=0.1, ignore_index=2)
    torch.testing.assert_close(fn(x, y, w), expected, rtol=1e-12, atol=0)


def test_meta_tensors_pass_through() -> None:
    x = torch.empty((4, C, 3), device="meta", dtype=torch.float32)
    y = torch.empty((4, 3), device="meta", dtype=torch.int64)
    w = torch.empty((C,), device="meta", dtype=torch.float32)
    b = torch.empty((4, C), device="meta", dtype=torch.float32)
    outs = [
        xloss.cross_entropy(x, y, w, label_smoothing=0.1, reduction="none"),
        xloss.cross_entropy(x, x),
        xloss.nll_loss(x, y, w),
        xloss.binary_cross_entropy(b, b, b),
        xloss.binary_cross_entropy_with_logits(b, b, pos_weight=w),
        xloss.kl_div(b, b, reduction="batchmean"),
        xloss.soft_margin_loss(b, b),
        xloss.multilabel_soft_margin_loss(b, b, w),
        xloss.sigmoid_focal_loss(b, b),
    ]
    assert all(o.device.type == "meta" for o in outs)
    assert tuple(outs[0].shape) == (4, 3)


# -- low precision and extreme logits ------------------------------------------------------------


@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_low_precision_is_float32_rounded_once(case: Case, low: str) -> None:
    try:
        case.dtype(low)
    except (LookupError, AttributeError):
        pytest.skip(f"{case.name} has no {low}")
    x = case.asarray(LOGITS["NC"], low)
    x32 = _t(case.to_numpy(x), torch.float32)  # the same rounded values, in float32
    y = LABELS["NC"]
    expected = F.cross_entropy(x32, _t(y), label_smoothing=0.1).numpy()
    out = case.call(xloss.cross_entropy, x, case.asarray(y), label_smoothing=0.1)
    assert_result(case, out, expected, dtype=low, rtol=1e-2 if low == "bfloat16" else 1e-3)
    t = case.asarray(BT, low)
    t32 = _t(case.to_numpy(t), torch.float32)
    b = case.asarray(BX, low)
    b32 = _t(case.to_numpy(b), torch.float32)
    expected = F.binary_cross_entropy_with_logits(b32, t32).numpy()
    out = case.call(xloss.binary_cross_entropy_with_logits, b, t)
    assert_result(case, out, expected, dtype=low, rtol=1e-2 if low == "bfloat16" else 1e-3)


def test_70000_classes_in_float16_give_log_70000(case: Case) -> None:
    try:
        case.dtype("float16")
    except (LookupError, AttributeError):
        pytest.skip(f"{case.name} has no float16")
    x = case.asarray(np.zeros((1, 70000)), "float16")
    out = case.call(xloss.cross_entropy, x, case.asarray(np.array([3])))
    assert_result(case, out, math.log(70000), dtype="float16", rtol=1e-3)


def test_logits_near_dtype_limits_are_finite_and_exact(case: Case) -> None:
    if case.float64:
        x = np.array([[1e30, -1e30, 0.0], [0.0, 1e30, 5.0]])
        dtype = "float64"
    else:
        x = np.array([[3e38, 0.0, 1e38], [0.0, 3e38, 5.0]], dtype=np.float32)
        dtype = "float32"
    x = x.astype(dtype)
    for y in (np.array([0, 1]), np.array([2, 0]), np.array([1, 2])):
        expected = F.cross_entropy(_t(x), _t(y), reduction="none").numpy()  # float64 torch
        out = case.call(
            xloss.cross_entropy, case.asarray(x, dtype), case.asarray(y), reduction="none"
        )
        assert np.isfinite(case.to_numpy(out)).all()
        assert_result(case, out, expected, dtype=dtype, rtol=1e-12 if dtype == "float64" else 1e-6)
    t = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]], dtype=dtype)
    expected = F.binary_cross_entropy_with_logits(_t(x), _t(t), reduction="none").numpy()
    out = case.call(
        xloss.binary_cross_entropy_with_logits,
        case.asarray(x, dtype),
        case.asarray(t, dtype),
        reduction="none",
    )
    assert np.isfinite(case.to_numpy(out)).all()
    assert_result(case, out, expected, dtype=dtype, rtol=1e-12 if dtype == "float64" else 1e-6)


# -- bad input ----------------------------------------------------------------------------------


def test_option_and_shape_errors(case: Case) -> None:
    x, y, p = case.asarray(LOGITS["NC"]), case.asarray(LABELS["NC"]), case.asarray(PROBS["NC"])
    b, t = case.asarray(BP), case.asarray(BT)
    for fn, args in (
        (xloss.cross_entropy, (x, y)),
        (xloss.nll_loss, (x, y)),
        (xloss.binary_cross_entropy, (b, t)),
        (xloss.binary_cross_entropy_with_logits, (b, t)),
        (xloss.soft_margin_loss, (b, t)),
        (xloss.multilabel_soft_margin_loss, (b, t)),
        (xloss.sigmoid_focal_loss, (b, t)),
    ):
        with pytest.raises(ValueError, match="reduction"):
            fn(*args, reduction="batchmean")
    with pytest.raises(ValueError, match="reduction"):
        xloss.kl_div(b, t, reduction="avg")
    for ls in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="label_smoothing"):
            xloss.cross_entropy(x, y, label_smoothing=ls)
    with pytest.raises(ValueError, match="matches neither"):
        xloss.cross_entropy(x, case.asarray(LABELS["NC"][:4]))
    with pytest.raises(ValueError, match="matches neither"):
        xloss.nll_loss(x, case.asarray(np.zeros((6, 1), dtype=np.int64)))
    with pytest.raises(ValueError, match="weight"):
        xloss.cross_entropy(x, y, case.asarray(np.ones(C - 1)))
    with pytest.raises(ValueError, match="weight"):
        xloss.cross_entropy(x, p, case.asarray(np.ones((1, C))))
    with pytest.raises(ValueError, match="weight"):
        xloss.nll_loss(x, y, case.asarray(np.ones(C + 1)))
    for bad in (LABELS["NC"][:, None] * np.ones((1, C), dtype=np.int64), LOGITS["NC"] > 0):
        with pytest.raises(TypeError, match="floating"):
            xloss.cross_entropy(case.asarray(bad), y)
    with pytest.raises(TypeError, match="floating"):
        xloss.nll_loss(case.asarray(LABELS["NC"][:, None] * np.ones((1, C), dtype=np.int64)), y)
    with pytest.raises(TypeError, match="integer"):
        xloss.cross_entropy(x, case.asarray(LABELS["NC"].astype(np.float64)))
    with pytest.raises(ValueError, match="ignore_index"):
        xloss.cross_entropy(x, p, ignore_index=0)
    with pytest.raises(ValueError, match="shape"):
        xloss.binary_cross_entropy(b, case.asarray(BT[:, :2]))
    with pytest.raises(ValueError, match="pos_weight"):
        xloss.binary_cross_entropy_with_logits(b, t, pos_weight=case.asarray(np.ones(3)))


def test_torch_rejects_what_we_reject() -> None:
    """The errors above are PyTorch's own."""
    x, y = _t(LOGITS["NC"]), _t(LABELS["NC"])
    with pytest.raises(RuntimeError, match="label_smoothing"):
        F.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="weight"):
        F.cross_entropy(x, y, torch.ones(C - 1, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="ignore_index"):
        F.cross_entropy(x, _t(PROBS["NC"]), ignore_index=0)
    with pytest.raises(ValueError, match="size"):
        F.binary_cross_entropy(_t(BP), _t(BT[:, :2]))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(_t(BP) + 1.0, _t(BT))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, _t(np.array([0, 1, 7, 0, 0, 0])))


def test_mixed_libraries_and_devices() -> None:
    with pytest.raises(TypeError, match="one array library"):
        xloss.cross_entropy(LOGITS["NC"], _t(LABELS["NC"]))
    strict = pytest.importorskip("array_api_strict")
    x = strict.asarray(LOGITS["NC"], device=strict.Device("device1"))
    y = strict.asarray(LABELS["NC"])
    with pytest.raises(ValueError, match="one device"):
        xloss.cross_entropy(x, y)
    with pytest.raises(ValueError, match="one device"):
        xloss.binary_cross_entropy_with_logits(
            strict.asarray(BX), strict.asarray(BT, device=strict.Device("device1"))
        )


def _inspectable(case: Case) -> bool:
    return case.library in ("numpy", "array_api_strict") or case.name == "torch"


@pytest.mark.parametrize("bad_label", [7, 5, -3])
def test_labels_out_of_range(case: Case, bad_label: int) -> None:
    labels = LABELS["NC"].copy()
    labels[3] = bad_label
    x, y = case.asarray(LOGITS["NC"]), case.asarray(labels)
    if _inspectable(case):
        # Every route raises: the torch entry turns its kernel's bounds error into ours, so
        # each option the kernel handles differently is tried (smoothing, weights, layouts).
        w = case.asarray(WEIGHTS["positive"])
        options = [
            {},
            {"reduction": "none"},
            {"reduction": "sum"},
            {"weight": w},
            {"ignore_index": 1},
        ]
        for fn in (xloss.cross_entropy, xloss.nll_loss):
            for opts in options + ([{"label_smoothing": 0.2}] if fn is xloss.cross_entropy else []):
                # with ignore_index=1 the -100 label is out of range too, and comes first
                match = "out of range" if "ignore_index" in opts else f"label {bad_label} "
                with pytest.raises(ValueError, match=match):
                    fn(x, y, **opts)
            # (batch, time, classes) with axis=-1, and (N, C, d) with the class axis 1
            btc = case.asarray(np.reshape(LOGITS["NC"], (2, -1, LOGITS["NC"].shape[1])))
            with pytest.raises(ValueError, match=f"label {bad_label} "):
                fn(btc, case.asarray(np.reshape(labels, (2, -1))), axis=-1)
            ncd = case.asarray(
                np.moveaxis(np.reshape(LOGITS["NC"], (2, -1, LOGITS["NC"].shape[1])), 2, 1)
            )
            with pytest.raises(ValueError, match=f"label {bad_label} "):
                fn(ncd, case.asarray(np.reshape(labels, (2, -1))))
        return
    # Not inspectable (traced, lazy, GPU): NaN at that position, never a wrapped index.
    out = case.to_numpy(case.call(xloss.cross_entropy, x, y, reduction="none"))
    assert np.isnan(out[3])
    assert np.isfinite(np.delete(out, 3)).all()
    w = case.asarray(WEIGHTS["positive"])
    for fn in (xloss.cross_entropy, xloss.nll_loss):
        assert np.isnan(case.to_numpy(case.call(fn, x, y, w)))


def test_bce_probabilities_outside_unit_interval(case: Case) -> None:
    p = BP.copy()
    p[2, 1] = 1.5
    p[4, 0] = -0.25
    x, t = case.asarray(p), case.asarray(BT)
    if _inspectable(case):
        with pytest.raises(ValueError, match="between 0 and 1"):
            xloss.binary_cross_entropy(x, t)
        return
    out = case.to_numpy(case.call(xloss.binary_cross_entropy, x, t, reduction="none"))
    assert np.isnan(out[2, 1])
    assert np.isnan(out[4, 0])
    assert np.isfinite(out).sum() == out.size - 2
