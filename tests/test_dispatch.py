"""Every native entry in xloss._dispatch equals the generic definition it replaces.

The registry is walked, so an entry added later is covered automatically, and an entry
whose name has no input recipe below fails instead of passing silently.
"""

from __future__ import annotations

import functools
import importlib.util
import math

import numpy as np
import pytest

import xloss  # noqa: F401  (registers every generic definition)
from xloss import _backend, _dispatch

RNG = np.random.default_rng(7)

LOGITS = np.concatenate(
    [
        RNG.normal(size=(6, 5)) * 3,
        [[1e30, 0.0, -1e30, 5.0, 1.0]],  # huge magnitudes
        [[-np.inf, 1.0, 2.0, -np.inf, 0.0]],  # zero probabilities
        [[0.0, 0.0, 0.0, 0.0, 0.0]],
    ]
)
ROW_ADVERSARIAL = np.concatenate(
    [LOGITS, [[-np.inf] * 5], [[np.nan, 1.0, 2.0, 3.0, 4.0]], [[np.inf, 1.0, -np.inf, 2.0, 0.0]]]
)
LABELS = np.array([0, 4, 2, -100, 1, 3, 0, 2, 4])
PROBS = RNG.dirichlet(np.ones(5), size=9)
PROBS[0, 1] = 0.0
ELEMENTS = np.array(
    [-1e300, -800.0, -30.0, -1.0, 0.0, 1e-8, 1.0, 30.0, 800.0, 1e300, np.inf, -np.inf, np.nan]
)
P01 = np.array([0.0, 1e-300, 0.2, 0.5, 0.9, 1.0 - 1e-16, 1.0])
T01 = np.array([0.0, 1.0, 0.3, 0.5, 1.0, 0.0, 1.0])


def _recipes(name: str) -> list[tuple[tuple, dict]]:
    """(positional NumPy arguments, options) cases for one registered name."""
    none3 = ("mean", "sum", "none")
    if name == "logsumexp":
        return [
            ((ROW_ADVERSARIAL,), {"axis": a, "keepdims": k})
            for a in (1, 0, None, (0, 1))
            for k in (False, True)
        ]
    if name in ("log_softmax", "softmax"):
        return [((ROW_ADVERSARIAL,), {"axis": a}) for a in (1, 0)]
    if name == "entropy_logits":
        finite = LOGITS[:6]
        return [((x,), {"axis": a}) for x in (ROW_ADVERSARIAL, finite) for a in (-1, 1, 0)]
    if name in ("cross_entropy_logits", "kl_divergence_logits"):
        # every adversarial row meets every other kind of row, either way round
        q = np.roll(ROW_ADVERSARIAL, 3, axis=0)
        finite_p, finite_q = LOGITS[:6], RNG.normal(size=(6, 5)) * 3
        return [
            ((ROW_ADVERSARIAL, q), {"axis": -1}),
            ((q, ROW_ADVERSARIAL), {"axis": 1}),
            ((ROW_ADVERSARIAL, q), {"axis": 0}),
            ((finite_p, finite_q), {"axis": -1}),
            ((finite_p, finite_q[0]), {"axis": -1}),  # broadcasting: declined by the natives
        ]
    if name in ("sigmoid", "log_sigmoid", "softplus"):
        return [((ELEMENTS,), {})]
    if name == "entr":
        return [((np.array([0.0, 1e-300, 0.3, 1.0, 5.0, -1.0, np.inf, np.nan]),), {})]
    if name in ("xlogy", "xlog1py", "rel_entr"):
        xs = np.array([0.0, 0.0, 0.0, 1.0, 2.5, 1e-300, -2.0, 0.5, np.nan, 0.0])
        ys = np.array([0.0, 1.0, np.inf, 0.0, 7.0, 1e-300, 0.5, -0.5, 1.0, np.nan])
        return [((xs, ys), {})]
    if name in ("cross_entropy", "nll_loss"):
        w = np.array([1.0, -0.5, 2.0, 0.3, 1.5])
        data = LOGITS if name == "cross_entropy" else LOGITS - 3.0
        cases = []
        for reduction in none3:
            for weight in (None, w):
                base = {"axis": 1, "ignore_index": -100, "reduction": reduction}
                if name == "cross_entropy":
                    for smoothing in (0.0, 0.2):
                        cases.append(
                            ((data, LABELS, weight), base | {"label_smoothing": smoothing})
                        )
                    cases.append(((data, PROBS, weight), base | {"label_smoothing": 0.1}))
                else:
                    cases.append(((data, LABELS, weight), base))
        # (batch, time, classes) with the class axis last, and (N, C, d) with axis 1
        btc = RNG.normal(size=(2, 3, 5))
        labels_bt = np.array([[0, 4, -100], [1, 2, 3]])
        opts = {"axis": 2, "ignore_index": -100, "reduction": "none"}
        if name == "cross_entropy":
            opts["label_smoothing"] = 0.0
        cases.append(((btc, labels_bt, None), opts))
        cases.append(((btc, labels_bt[:, :], None), opts | {"reduction": "mean"}))
        ncd = RNG.normal(size=(2, 5, 3))
        cases.append(((ncd, np.array([[0, 4, 1], [-100, 2, 3]]), None), opts | {"axis": 1}))
        all_ignored = {"axis": 1, "ignore_index": -100, "reduction": "mean"}
        if name == "cross_entropy":
            all_ignored["label_smoothing"] = 0.1
        cases.append(((data, np.full(9, -100), None), all_ignored))  # NaN
        return cases
    if name == "binary_cross_entropy":
        return [
            ((P01, T01, w), {"reduction": r}) for r in none3 for w in (None, np.linspace(0.5, 2, 7))
        ]
    if name == "binary_cross_entropy_with_logits":
        x = ELEMENTS[:10].reshape(2, 5)
        t = RNG.random((2, 5))
        return [
            ((x, t, w, pw), {"reduction": r})
            for r in none3
            for w in (None, np.array([1.0, 2.0, 0.5, 1.0, 3.0]))
            for pw in (None, np.array([0.5, 1.0, 2.0, 3.0, 1.0]))
        ]
    if name == "kl_div":
        log_q = np.log(RNG.dirichlet(np.ones(5), size=4))
        p = RNG.dirichlet(np.ones(5), size=4)
        p[0, 0] = 0.0
        with np.errstate(divide="ignore"):
            log_p = np.log(p)
        return [
            ((log_q, log_p if lt else p), {"reduction": r, "log_target": lt})
            for r in ("mean", "sum", "none", "batchmean")
            for lt in (False, True)
        ]
    return []


def _kinds() -> list[str]:
    return [
        k
        for k, mod in (("torch", "torch"), ("jax", "jax"), ("numpy", "numpy"), ("cupy", "cupy"))
        if importlib.util.find_spec(mod) is not None
    ]


def _entries() -> list[object]:
    params = []
    for kind in _kinds():
        try:
            entries = _dispatch.native_entries(kind)
        except ImportError as exc:  # e.g. CuPy installed without a GPU runtime
            params.append(pytest.param(kind, None, marks=pytest.mark.skip(reason=str(exc))))
            continue
        params += [pytest.param(kind, name, id=f"{kind}-{name}") for name in sorted(entries)]
    return params


def _convert(kind: str, value, dtype: str):
    if value is None or not isinstance(value, np.ndarray):
        return value
    dtype_name = "int64" if value.dtype.kind in "iu" else dtype
    with np.errstate(over="ignore"):  # 1e300 -> inf in float32 is part of the recipe
        value = value.astype(dtype_name)
    if kind == "torch":
        import torch

        return torch.asarray(value)
    if kind == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        return jnp.asarray(value)
    if kind == "cupy":
        import cupy

        return cupy.asarray(value)
    return value


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().double().numpy()
    if hasattr(value, "get"):
        return value.get()
    return np.asarray(value, dtype=np.float64)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("kind", "name"), _entries())
def test_native_equals_generic(kind: str, name: str, dtype: str) -> None:
    recipes = _recipes(name)
    assert recipes, f"native entry {kind}:{name} has no input recipe in tests/test_dispatch.py"
    native = _dispatch.native(name, kind)
    generic = _dispatch.generic(name)
    rtol = 1e-12 if dtype == "float64" else 2e-6
    used = 0
    for args, options in recipes:
        arrays = [_convert(kind, a, dtype) for a in args]
        backend = _backend.resolve(*arrays)
        with np.errstate(all="ignore"):
            got = native(*arrays, backend=backend, **options)
            if got is NotImplemented:
                continue
            used += 1
            want = generic(*arrays, backend=backend, **options)
        np.testing.assert_allclose(
            _to_numpy(got),
            _to_numpy(want),
            rtol=rtol,
            atol=8 * float(np.finfo(dtype).eps),
            equal_nan=True,
            err_msg=f"{kind}:{name} {options}",
        )
    assert used, f"{kind}:{name} declined every recipe: none was tested"


def _torch_grad(fn, arrays, index):
    import torch

    leaf = arrays[index].detach().clone().requires_grad_(True)
    args = list(arrays)
    args[index] = leaf
    out = fn(*args)
    if out is NotImplemented:
        return None
    torch.where(torch.isfinite(out), out, 0.0).sum().backward()
    return leaf.grad.numpy()


@pytest.mark.parametrize(("kind", "name"), [p for p in _entries() if p.values[0] == "torch"])
def test_torch_native_gradient_equals_generic(kind: str, name: str) -> None:
    """Autograd through the native kernel equals autograd through the generic definition."""
    native = _dispatch.native(name, kind)
    generic = _dispatch.generic(name)
    for args, options in _recipes(name):
        arrays = [_convert(kind, a, "float64") for a in args]
        if not arrays[0].dtype.is_floating_point:
            continue
        # finite inputs only: gradients at +-inf logits are NaN in both, by different routes
        if not bool(arrays[0].isfinite().all()):
            continue
        backend = _backend.resolve(*arrays)
        got = _torch_grad(functools.partial(native, backend=backend, **options), arrays, 0)
        if got is None:
            continue
        want = _torch_grad(functools.partial(generic, backend=backend, **options), arrays, 0)
        np.testing.assert_allclose(
            got, want, rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=f"{name} {options}"
        )


def test_unchecked_labels_give_nan_not_an_assert() -> None:
    """Where labels were not checked (CUDA, compiling) the torch fast path keeps NaN policy."""
    torch = pytest.importorskip("torch")
    x = torch.randn(4, 3, dtype=torch.float64)
    y = torch.tensor([0, 7, 1, -100])
    backend = _backend.Backend(_backend.resolve(x).xp, "torch", x.device, inspectable=False)
    native = _dispatch.native("cross_entropy", "torch")
    opts = {"axis": 1, "ignore_index": -100, "label_smoothing": 0.0}
    none = native(x, y, None, backend=backend, reduction="none", **opts)
    assert math.isnan(none[1])
    assert not none[[0, 2, 3]].isnan().any()
    assert math.isnan(native(x, y, None, backend=backend, reduction="mean", **opts))
