"""xloss.info against scipy.stats.entropy / scipy.spatial.distance.jensenshannon, plus properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as st
from hypothesis import assume, given, settings
from hypothesis import strategies as hs
from hypothesis.extra import numpy as hnp
from scipy.spatial.distance import jensenshannon

from backends import Case, assert_result
from xloss import info

RNG = np.random.default_rng(1)


def _distributions(shape: tuple[int, ...], zeros: bool = True) -> np.ndarray:
    p = RNG.random(shape) * 3  # unnormalised on purpose: xloss normalises like SciPy
    if zeros:
        p[..., 1] = 0.0
    return p


@pytest.mark.parametrize("base", [None, 2, 10, 0.5])
@pytest.mark.parametrize("axis", [-1, 0])
def test_entropy_matches_scipy(case: Case, dtype: str, base, axis: int) -> None:
    p = _distributions((4, 5)).astype(dtype)
    out = case.call(info.entropy, case.asarray(p, dtype), axis=axis, base=base)
    assert_result(case, out, st.entropy(p, axis=axis, base=base), dtype=dtype)


@pytest.mark.parametrize("base", [None, 2])
def test_cross_entropy_and_kl_match_scipy(case: Case, dtype: str, base) -> None:
    p, q = _distributions((3, 6)).astype(dtype), _distributions((3, 6), zeros=False).astype(dtype)
    q[0, 3] = 0.0  # q = 0 < p: infinite divergence
    xp, xq = case.asarray(p, dtype), case.asarray(q, dtype)
    with np.errstate(divide="ignore"):
        kl = st.entropy(p, q, axis=-1, base=base)
    assert_result(case, case.call(info.kl_divergence, xp, xq, base=base), kl, dtype=dtype)
    ce = st.entropy(p, axis=-1, base=base) + kl
    assert_result(case, case.call(info.cross_entropy, xp, xq, base=base), ce, dtype=dtype)


@pytest.mark.parametrize("base", [None, 2])
def test_js_divergence_matches_scipy(case: Case, dtype: str, base) -> None:
    p, q = _distributions((3, 6)).astype(dtype), _distributions((3, 6)).astype(dtype)
    q[:, 2] = 0.0
    out = case.call(info.js_divergence, case.asarray(p, dtype), case.asarray(q, dtype), base=base)
    expected = jensenshannon(p.astype(np.float64), q.astype(np.float64), axis=-1, base=base) ** 2
    assert_result(case, out, expected, dtype=dtype, atol=1e-6 if dtype == "float32" else 1e-15)


def test_logits_form_equals_probability_form(case: Case, dtype: str) -> None:
    logits_p = RNG.normal(size=(3, 5)) * 4
    logits_q = RNG.normal(size=(3, 5)) * 4
    logits_p[0, 0] = -np.inf  # a zero probability given as log 0
    p, q = sc.softmax(logits_p, axis=-1), sc.softmax(logits_q, axis=-1)
    lp, lq = case.asarray(logits_p, dtype), case.asarray(logits_q, dtype)
    atol = 1e-6 if dtype == "float32" else 1e-14
    assert_result(
        case,
        case.call(info.entropy, lp, logits=True),
        st.entropy(p, axis=-1),
        dtype=dtype,
        atol=atol,
    )
    assert_result(
        case,
        case.call(info.kl_divergence, lp, lq, logits=True),
        st.entropy(p, q, axis=-1),
        dtype=dtype,
        atol=atol,
    )
    assert_result(
        case,
        case.call(info.cross_entropy, lp, lq, logits=True),
        st.entropy(p, axis=-1) + st.entropy(p, q, axis=-1),
        dtype=dtype,
        atol=atol,
    )
    assert_result(
        case,
        case.call(info.js_divergence, lp, lq, logits=True),
        jensenshannon(p, q, axis=-1) ** 2,
        dtype=dtype,
        atol=atol,
    )


def test_logits_are_stable_at_extreme_magnitudes(case: Case) -> None:
    big = 1e300 if case.float64 else 3e38
    logits = np.array([[big, 0.0, -big], [0.0, 0.0, 0.0]])
    if not case.float64:
        logits = logits.astype(np.float32)
    out = case.call(info.entropy, case.asarray(logits), logits=True)
    assert_result(
        case, out, [0.0, math.log(3.0)], dtype=None if case.float64 else "float32", atol=1e-7
    )


@pytest.mark.parametrize("base", [0, -2, 1, "2", float("nan"), True])
def test_bad_base_is_rejected(base) -> None:
    with pytest.raises(ValueError, match="base"):
        info.entropy(np.array([0.5, 0.5]), base=base)


def test_negative_probability(case: Case) -> None:
    p = case.asarray(np.array([[0.5, -0.1, 0.6], [0.2, 0.3, 0.5]]))
    if case.library in ("numpy", "array_api_strict") or case.name == "torch":
        with pytest.raises(ValueError, match="non-negative"):
            info.entropy(p)
    else:  # JAX, Dask, CUDA: values cannot be read without a trace break, compute or sync
        out = case.to_numpy(case.call(info.entropy, p))
        assert np.isnan(out[0])
        assert np.isfinite(out[1])


def test_integer_probabilities_are_rejected() -> None:
    with pytest.raises(TypeError, match="real floating"):
        info.entropy(np.array([1, 2, 3]))


def test_entropy_gradient_matches_torch_autograd() -> None:
    torch = pytest.importorskip("torch")
    logits = torch.tensor(RNG.normal(size=(4, 6)), requires_grad=True)
    info.entropy(logits, logits=True).sum().backward()
    ours = logits.grad.clone()
    logits.grad = None
    torch.distributions.Categorical(logits=logits).entropy().sum().backward()
    torch.testing.assert_close(ours, logits.grad, rtol=1e-12, atol=1e-14)


def test_kl_gradient_finite_with_zero_probabilities() -> None:
    torch = pytest.importorskip("torch")
    logits_p = torch.tensor([[-np.inf, 0.0, 1.0]], dtype=torch.float64)
    logits_q = torch.tensor([[0.0, 2.0, -1.0]], dtype=torch.float64, requires_grad=True)
    info.kl_divergence(logits_p, logits_q, logits=True).sum().backward()
    assert torch.isfinite(logits_q.grad).all()


# -- properties (hypothesis, NumPy) ----------------------------------------------------

probabilities = hnp.arrays(
    np.float64,
    hs.integers(2, 8),
    elements=hs.floats(0.0, 1.0, allow_subnormal=False),
).filter(lambda a: a.sum() > 1e-3)


def _pair(draw_p: np.ndarray, draw_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = min(draw_p.size, draw_q.size)
    p, q = draw_p[:n], draw_q[:n]
    assume(p.sum() > 1e-3 and q.sum() > 1e-3)  # truncation may leave an all-zero vector
    return p, q


@settings(max_examples=60, deadline=None)
@given(probabilities, probabilities)
def test_cross_entropy_is_entropy_plus_kl(p: np.ndarray, q: np.ndarray) -> None:
    p, q = _pair(p, q)
    q = q + 0.01  # keep KL finite
    lhs = info.cross_entropy(p, q)
    rhs = info.entropy(p) + info.kl_divergence(p, q)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(probabilities, probabilities)
def test_kl_is_nonnegative_and_zero_on_the_diagonal(p: np.ndarray, q: np.ndarray) -> None:
    p, q = _pair(p, q)
    assert info.kl_divergence(p, q) >= -1e-12
    assert abs(info.kl_divergence(p, p)) <= 1e-12


@settings(max_examples=60, deadline=None)
@given(probabilities, probabilities)
def test_js_is_symmetric_and_bounded(p: np.ndarray, q: np.ndarray) -> None:
    p, q = _pair(p, q)
    a, b = info.js_divergence(p, q), info.js_divergence(q, p)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert -1e-15 <= a <= math.log(2) + 1e-12
    assert info.js_divergence(p, q, base=2) <= 1 + 1e-12


@settings(max_examples=60, deadline=None)
@given(probabilities)
def test_bits_are_nats_over_ln2(p: np.ndarray) -> None:
    np.testing.assert_allclose(info.entropy(p, base=2), info.entropy(p) / math.log(2), rtol=1e-13)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hs.integers(2, 8), elements=hs.floats(-30, 30)))
def test_logits_form_equals_probability_form_property(logits: np.ndarray) -> None:
    p = sc.softmax(logits)
    np.testing.assert_allclose(
        info.entropy(logits, logits=True), info.entropy(p), rtol=1e-9, atol=1e-12
    )
