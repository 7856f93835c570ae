"""The torch CPU custom backward of class-index cross-entropy (``xloss._dispatch._torch_ce``).

Values and gradients are held against torch autograd through ``F.cross_entropy`` in float64
on every option combination, multi-block inputs and adversarial rows; second derivatives
(``create_graph=True``) likewise. Also: what autograd keeps for the backward, the gate
(which calls still run ``F.cross_entropy``), and the out-of-range label error.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import xloss  # noqa: E402
from xloss._dispatch import _torch_ce  # noqa: E402

CUSTOM = "_CrossEntropyBackward"
C = 7


@pytest.fixture
def small_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send small inputs down the custom path, in blocks of 3 rows (7 classes)."""
    monkeypatch.setattr(_torch_ce, "MIN_ELEMENTS", 1)
    monkeypatch.setattr(_torch_ce, "_BLOCK_ELEMENTS", 3 * C)


def _logits(n: int = 20, c: int = C, seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g, dtype=dtype) * 3


def _labels(n: int = 20, c: int = C, seed: int = 1, ignore: bool = True):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, c, (n,), generator=g)
    if ignore:
        y[::4] = -100
    return y


def _adversarial():
    """Rows with +inf, -inf (one, all, at the label), NaN, huge and equal logits."""
    x = _logits(12)
    inf, nan = math.inf, math.nan
    x[0, 2] = inf
    x[1] = -inf
    x[2, 3] = nan
    x[3, 0] = -inf  # at the label below
    x[4] = torch.tensor([1e300, 0.0, -1e300, 5.0, 1.0, 2.0, 3.0])
    x[5] = 0.0
    x[6, 1] = inf  # on an ignored row
    x[7, 4] = nan  # on an ignored row
    y = torch.tensor([1, 0, 2, 0, 2, 4, -100, -100, 6, 3, 5, 1])
    return x, y


def _both(x, y, weight, reduction, *, axis=None, create_graph=False, **options):
    """(value, gradient) of xloss and of F.cross_entropy for the same upstream gradient."""
    out = []
    for fn in ("xloss", "torch"):
        leaf = x.clone().requires_grad_()
        if fn == "xloss":
            value = xloss.cross_entropy(leaf, y, weight, reduction=reduction, axis=axis, **options)
        else:
            rows = leaf if axis is None else leaf.movedim(-1, 1)
            value = F.cross_entropy(rows, y, weight, reduction=reduction, **options)
        upstream = torch.linspace(0.5, 2.0, value.numel(), dtype=x.dtype).reshape(value.shape)
        (grad,) = torch.autograd.grad(value, leaf, upstream, create_graph=create_graph)
        out.append((value, grad, leaf, value.grad_fn))
    return out


def _custom(grad_fn) -> bool:
    """Whether the graph ends in the custom Function (through a reshape for "none")."""
    while type(grad_fn).__name__ in ("ViewBackward0", "UnsafeViewBackward0"):
        grad_fn = grad_fn.next_functions[0][0]
    return type(grad_fn).__name__ == CUSTOM


def _assert_same(a, b):
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14, equal_nan=True)


@pytest.mark.usefixtures("small_gate")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore", [False, True], ids=["all-kept", "ignored"])
@pytest.mark.parametrize("n", [2, 3, 20], ids=["one-block", "full-block", "multi-block"])
def test_values_and_gradients_match_torch(n, ignore, weighted, reduction):
    x, y = _logits(n), _labels(n, ignore=ignore)
    weight = torch.linspace(0.2, 3.0, C, dtype=torch.float64) if weighted else None
    (value, grad, _, grad_fn), (ref, ref_grad, _, _) = _both(x, y, weight, reduction)
    assert _custom(grad_fn)
    _assert_same(value, ref)
    _assert_same(grad, ref_grad)


@pytest.mark.usefixtures("small_gate")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_adversarial_rows_match_torch(weighted, reduction):
    x, y = _adversarial()
    weight = torch.linspace(0.0, 3.0, C, dtype=torch.float64) if weighted else None
    (value, grad, _, grad_fn), (ref, ref_grad, _, _) = _both(x, y, weight, reduction)
    assert _custom(grad_fn)
    _assert_same(value, ref)
    _assert_same(grad, ref_grad)


@pytest.mark.usefixtures("small_gate")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_all_ignored_and_zero_total_weight_match_torch(weighted):
    x = _logits(8)
    weight = torch.zeros(C, dtype=torch.float64) if weighted else None
    y = torch.full((8,), -100) if not weighted else _labels(8, ignore=False)
    (value, grad, _, _), (ref, ref_grad, _, _) = _both(x, y, weight, "mean")
    assert torch.isnan(ref)
    _assert_same(value, ref)
    _assert_same(grad, ref_grad)


@pytest.mark.usefixtures("small_gate")
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_trailing_class_axis_matches_torch(reduction):
    x = _logits(24).reshape(2, 12, C)
    y = _labels(24).reshape(2, 12)
    (value, grad, _, grad_fn), (ref, ref_grad, _, _) = _both(x, y, None, reduction, axis=-1)
    assert _custom(grad_fn)
    assert value.shape == ref.shape
    _assert_same(value, ref)
    _assert_same(grad, ref_grad)


@pytest.mark.usefixtures("small_gate")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_second_derivative_matches_torch(weighted, reduction):
    """create_graph=True: the gradient is differentiable, as through F.cross_entropy."""
    x, y = _logits(10), _labels(10)
    weight = torch.linspace(0.2, 3.0, C, dtype=torch.float64) if weighted else None
    pairs = _both(x, y, weight, reduction, create_graph=True)
    direction = _logits(10, seed=5)
    second = []
    for _, grad, leaf, _ in pairs:
        (hvp,) = torch.autograd.grad((grad * direction).sum(), leaf)
        second.append(hvp)
    _assert_same(pairs[0][1], pairs[1][1])
    _assert_same(second[0], second[1])


@pytest.mark.usefixtures("small_gate")
def test_float32_close_to_torch():
    x, y = _logits(20, dtype=torch.float32), _labels(20)
    (value, grad, _, grad_fn), (ref, ref_grad, _, _) = _both(x, y, None, "mean")
    assert _custom(grad_fn)
    torch.testing.assert_close(value, ref, rtol=1e-6, atol=0)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-9)


@pytest.mark.usefixtures("small_gate")
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_computes_in_float32(dtype):
    """As before: xloss upcasts to float32, runs the float32 loss, returns the input dtype."""
    x, y = _logits(dtype=getattr(torch, dtype)), _labels()
    leaf, ref_leaf = x.clone().requires_grad_(), x.clone().requires_grad_()
    value = xloss.cross_entropy(leaf, y)
    value.backward()
    ref = F.cross_entropy(ref_leaf.float(), y).to(x.dtype)
    ref.backward()
    assert value.dtype == x.dtype
    assert _custom(value.grad_fn.next_functions[0][0])
    torch.testing.assert_close(value, ref)
    torch.testing.assert_close(leaf.grad, ref_leaf.grad)


def _saved_beyond_inputs(fn, *inputs) -> int:
    """Bytes of the distinct storages autograd saved for the backward, the inputs excluded."""
    saved: dict[int, int] = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    for t in inputs:
        saved.pop(t.untyped_storage().data_ptr(), None)
    return sum(saved.values())


def test_saved_footprint_is_below_torch():
    n, c = 2048, 4096  # at MIN_ELEMENTS with the real block size: several blocks
    assert n * c >= _torch_ce.MIN_ELEMENTS
    x = _logits(n, c, dtype=torch.float32).requires_grad_()
    y = _labels(n, c)
    custom = _saved_beyond_inputs(lambda: xloss.cross_entropy(x, y), x, y)
    native = _saved_beyond_inputs(lambda: F.cross_entropy(x, y), x, y)
    assert native >= n * c * 4  # F keeps the N x C log-probabilities
    assert custom <= 64  # the total weight only


def test_large_inputs_take_the_custom_path_and_match():
    n, c = 2100, 4096  # 256 rows per block at 2^20 elements: 9 blocks, the last short
    assert n * c >= _torch_ce.MIN_ELEMENTS
    x, y = _logits(n, c), _labels(n, c)
    (value, grad, _, grad_fn), (ref, ref_grad, _, _) = _both(x, y, None, "mean")
    assert _custom(grad_fn)
    _assert_same(value, ref)
    _assert_same(grad, ref_grad)


@pytest.mark.parametrize("shape", [(32, 10), (128, 100), (256, 1000), (4096, 1000)])
def test_small_inputs_keep_the_native_path(shape):
    x = _logits(*shape, dtype=torch.float32).requires_grad_()
    loss = xloss.cross_entropy(x, _labels(*shape))
    assert type(loss.grad_fn).__name__ == "NllLossBackward0"


@pytest.mark.usefixtures("small_gate")
@pytest.mark.parametrize(
    "case",
    [
        "no-grad",
        "grad-disabled",
        "label-smoothing",
        "weight-requires-grad",
        "class-axis-1",
        "probability-target",
    ],
)
def test_declined_cases_run_torch(case):
    x, y = _logits(), _labels()
    weight, options = None, {}
    if case != "no-grad":
        x.requires_grad_()
    if case == "label-smoothing":
        options["label_smoothing"] = 0.1
    if case == "weight-requires-grad":  # F has no derivative for it: its error, as before
        weight = torch.ones(C, dtype=x.dtype, requires_grad=True)
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument"):
            xloss.cross_entropy(x, y, weight)
        return
    if case == "class-axis-1":
        x = x.detach().reshape(4, 5, C).movedim(-1, 1).requires_grad_()
        y = y.reshape(4, 5)
    if case == "probability-target":
        y = torch.softmax(_logits(seed=3), -1)
    if case == "grad-disabled":
        with torch.no_grad():
            loss = xloss.cross_entropy(x, y, weight, **options)
    else:
        loss = xloss.cross_entropy(x, y, weight, **options)
    assert loss.grad_fn is None or not _custom(loss.grad_fn)


@pytest.mark.usefixtures("small_gate")
@pytest.mark.parametrize("bad", [C, -1, 100])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_out_of_range_labels_raise(bad, reduction):
    x = _logits().requires_grad_()
    y = _labels()
    y[13] = bad  # in the fifth block
    with pytest.raises(ValueError, match=f"target label {bad} is out of range for {C} classes"):
        xloss.cross_entropy(x, y, reduction=reduction)


@pytest.mark.usefixtures("small_gate")
def test_int32_labels_and_custom_ignore_index():
    x, y = _logits(), _labels()
    y[y == -100] = 3
    y32 = y.to(torch.int32)
    leaf = x.clone().requires_grad_()
    value = xloss.cross_entropy(leaf, y32, ignore_index=3)
    assert _custom(value.grad_fn)
    value.backward()
    ref_leaf = x.clone().requires_grad_()
    ref = F.cross_entropy(ref_leaf, y, ignore_index=3)
    ref.backward()
    _assert_same(value, ref)
    _assert_same(leaf.grad, ref_leaf.grad)
