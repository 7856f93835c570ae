"""xloss.metrics against scikit-learn, torchmetrics and torch on every backend; merge = one-shot."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends import Case, assert_result
from xloss import metrics

sklearn_metrics = pytest.importorskip("sklearn.metrics")
torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
N, C = 60, 4


def _probabilities(n: int, c: int, rng=RNG) -> np.ndarray:
    return rng.dirichlet(np.ones(c) * 0.7, size=n)


PROBS = _probabilities(N, C)
PROBS[0] = [1.0, 0.0, 0.0, 0.0]  # exercises the clip at eps
LABELS = RNG.integers(0, C, size=N)
LABELS[0] = 1  # log 0 without the clip
WEIGHTS = RNG.uniform(0.1, 3.0, size=N)
P_BINARY = RNG.uniform(0.0, 1.0, size=N)
P_BINARY[:2] = [0.0, 1.0]
Y_BINARY = RNG.integers(0, 2, size=N)


def _rtol(case: Case) -> float:
    return 1e-12 if case.float64 else 2e-6


def _prob32(case: Case, p: np.ndarray) -> np.ndarray:
    """The data the case sees (float32 where it has no float64), for the reference."""
    return p if case.float64 else p.astype(np.float32)


# -- log_loss -------------------------------------------------------------------------------


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_log_loss_multiclass_matches_sklearn(case: Case, normalize, weighted) -> None:
    sw = WEIGHTS if weighted else None
    expected = sklearn_metrics.log_loss(
        LABELS, _prob32(case, PROBS), normalize=normalize, sample_weight=sw
    )
    out = case.call(
        metrics.log_loss,
        case.asarray(LABELS),
        case.asarray(PROBS),
        normalize=normalize,
        sample_weight=None if sw is None else case.asarray(sw),
    )
    assert_result(case, out, expected, rtol=_rtol(case))


def test_log_loss_binary_matches_sklearn(case: Case) -> None:
    expected = sklearn_metrics.log_loss(Y_BINARY, _prob32(case, P_BINARY))
    out = case.call(metrics.log_loss, case.asarray(Y_BINARY), case.asarray(P_BINARY))
    assert_result(case, out, expected, rtol=_rtol(case))
    # booleans, and a single column
    out = case.call(
        metrics.log_loss, case.asarray(Y_BINARY.astype(bool)), case.asarray(P_BINARY[:, None])
    )
    assert_result(case, out, expected, rtol=_rtol(case))


def test_log_loss_labels_and_indicator_match_sklearn(case: Case) -> None:
    values = np.array([-3, 5, 10, 20])
    y = values[LABELS]
    expected = sklearn_metrics.log_loss(y, _prob32(case, PROBS), labels=[-3, 5, 10, 20])
    out = case.call(metrics.log_loss, case.asarray(y), case.asarray(PROBS), labels=[20, -3, 10, 5])
    assert_result(case, out, expected, rtol=_rtol(case))
    indicator = np.eye(C)[LABELS]
    out = case.call(metrics.log_loss, case.asarray(indicator), case.asarray(PROBS))
    assert_result(
        case, out, sklearn_metrics.log_loss(LABELS, _prob32(case, PROBS)), rtol=_rtol(case)
    )


def test_log_loss_absent_classes_equal_sklearn_with_labels(case: Case) -> None:
    """Without labels the columns are classes 0..C-1, whether or not they occur."""
    y = np.where(LABELS == 3, 0, LABELS)
    expected = sklearn_metrics.log_loss(y, _prob32(case, PROBS), labels=[0, 1, 2, 3])
    out = case.call(metrics.log_loss, case.asarray(y), case.asarray(PROBS))
    assert_result(case, out, expected, rtol=_rtol(case))


def test_log_loss_bad_values(case: Case) -> None:
    bad_p = PROBS.copy()
    bad_p[3, 1] = 1.5
    bad_y = LABELS.copy()
    bad_y[4] = 7
    for y, p in ((LABELS, bad_p), (bad_y, PROBS)):
        with pytest.raises(ValueError):
            sklearn_metrics.log_loss(y, p, labels=list(range(C)))
        if case.library in ("numpy", "array_api_strict") or case.name == "torch":
            with pytest.raises(ValueError):
                metrics.log_loss(case.asarray(y), case.asarray(p))
        else:
            out = case.call(metrics.log_loss, case.asarray(y), case.asarray(p))
            assert np.isnan(case.to_numpy(out))
    with pytest.raises(ValueError, match="number of classes"):
        metrics.log_loss(case.asarray(LABELS), case.asarray(PROBS), labels=[0, 1, 2])
    with pytest.raises(ValueError, match="shape"):
        metrics.log_loss(case.asarray(LABELS[:5]), case.asarray(PROBS))


# -- perplexity / bits per token ------------------------------------------------------------

LOGITS = RNG.normal(size=(3, 7, 6)) * 4.0  # (batch, time, vocab)
TOKENS = RNG.integers(0, 6, size=(3, 7))
TOKENS[0, :3] = -100
TOKENS[2, 5] = -1


def _torch_cross_entropy(logits: np.ndarray, target: np.ndarray, ignore_index: int) -> float:
    x = torch.tensor(logits, dtype=torch.float64)
    y = torch.tensor(target)
    return float(torch.nn.functional.cross_entropy(x, y, ignore_index=ignore_index))


@pytest.mark.parametrize("ignore_index", [-100, -1])
def test_perplexity_and_bits_match_torch(case: Case, ignore_index: int) -> None:
    tokens = np.where(TOKENS < 0, ignore_index, TOKENS)
    logits = _prob32(case, LOGITS)
    # torch's class dim is 1: (batch, vocab, time)
    nats = _torch_cross_entropy(np.moveaxis(logits, -1, 1), tokens, ignore_index)
    x, y = case.asarray(LOGITS), case.asarray(tokens)
    out = case.call(metrics.perplexity, x, y, ignore_index=ignore_index, axis=-1)
    assert_result(case, out, math.exp(nats), rtol=_rtol(case))
    out = case.call(metrics.bits_per_token, x, y, ignore_index=ignore_index, axis=-1)
    assert_result(case, out, nats / math.log(2), rtol=_rtol(case))
    # the default class axis is torch's (1)
    x1 = case.asarray(np.moveaxis(LOGITS, -1, 1))
    out = case.call(metrics.perplexity, x1, y, ignore_index=ignore_index)
    assert_result(case, out, math.exp(nats), rtol=_rtol(case))


def test_perplexity_is_stable_for_extreme_logits(case: Case) -> None:
    """torchmetrics' softmax().log() gives inf here; logsumexp - logit does not."""
    logits = np.array([[0.0, -2000.0 if case.float64 else -200.0], [30.0, 0.0]])
    target = np.array([1, 1])
    nats = _torch_cross_entropy(logits, target, -100)
    out = case.call(metrics.bits_per_token, case.asarray(logits), case.asarray(target))
    assert_result(case, out, nats / math.log(2), rtol=_rtol(case))


def test_perplexity_all_ignored_is_nan(case: Case) -> None:
    out = case.call(
        metrics.perplexity, case.asarray(LOGITS[0]), case.asarray(np.full(7, -100)), axis=-1
    )
    assert np.isnan(case.to_numpy(out))


def test_perplexity_bad_target(case: Case) -> None:
    target = TOKENS.copy()
    target[1, 1] = 6
    x, y = case.asarray(LOGITS), case.asarray(target)
    if case.library in ("numpy", "array_api_strict") or case.name == "torch":
        with pytest.raises(ValueError, match="outside"):
            metrics.perplexity(x, y, axis=-1)
    else:
        assert np.isnan(case.to_numpy(case.call(metrics.perplexity, x, y, axis=-1)))
    with pytest.raises(TypeError, match="integer"):
        metrics.perplexity(x, case.asarray(TOKENS.astype(float)), axis=-1)
    with pytest.raises(ValueError, match="shape"):
        metrics.perplexity(x, y)  # class axis 1 is time here


# -- Brier score ------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_brier_binary_matches_sklearn(case: Case, weighted: bool) -> None:
    sw = WEIGHTS if weighted else None
    expected = sklearn_metrics.brier_score_loss(Y_BINARY, _prob32(case, P_BINARY), sample_weight=sw)
    out = case.call(
        metrics.brier_score,
        case.asarray(Y_BINARY),
        case.asarray(P_BINARY),
        sample_weight=None if sw is None else case.asarray(sw),
    )
    assert_result(case, out, expected, rtol=_rtol(case))


@pytest.mark.parametrize("scale_by_half", ["auto", True, False])
def test_brier_multiclass_matches_sklearn(case: Case, scale_by_half) -> None:
    expected = sklearn_metrics.brier_score_loss(
        LABELS, _prob32(case, PROBS), scale_by_half=scale_by_half
    )
    out = case.call(
        metrics.brier_score, case.asarray(LABELS), case.asarray(PROBS), scale_by_half=scale_by_half
    )
    assert_result(case, out, expected, rtol=_rtol(case))
    y = np.array([-1, 1])[Y_BINARY]
    expected = sklearn_metrics.brier_score_loss(y, _prob32(case, P_BINARY))
    out = case.call(metrics.brier_score, case.asarray(y), case.asarray(P_BINARY), labels=[-1, 1])
    assert_result(case, out, expected, rtol=_rtol(case))


# -- calibration error -------------------------------------------------------------------------


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("n_bins", [15, 7])
def test_calibration_error_matches_torchmetrics(case: Case, norm: str, n_bins: int) -> None:
    tm = pytest.importorskip("torchmetrics.functional.classification")
    # float32-representable data: torchmetrics computes multiclass confidences in float32
    probs = PROBS.astype(np.float32).astype(np.float64)
    probs[1] = [0.0, 0.0, 0.0, 1.0]  # confidence exactly 1: torchmetrics' extra bin
    expected = float(
        tm.multiclass_calibration_error(
            torch.tensor(probs), torch.tensor(LABELS), C, n_bins=n_bins, norm=norm
        )
    )
    out = case.call(
        metrics.expected_calibration_error,
        case.asarray(LABELS),
        case.asarray(probs),
        n_bins=n_bins,
        norm=norm,
    )
    assert_result(case, out, expected, rtol=2e-6, atol=1e-7)
    p = P_BINARY.astype(np.float32).astype(np.float64)
    expected = float(
        tm.binary_calibration_error(
            torch.tensor(p), torch.tensor(Y_BINARY), n_bins=n_bins, norm=norm
        )
    )
    out = case.call(
        metrics.expected_calibration_error,
        case.asarray(Y_BINARY),
        case.asarray(p),
        n_bins=n_bins,
        norm=norm,
    )
    assert_result(case, out, expected, rtol=_rtol(case) if case.float64 else 2e-6, atol=1e-7)


def test_calibration_error_bad_input(case: Case) -> None:
    with pytest.raises(ValueError, match="norm"):
        metrics.expected_calibration_error(case.asarray(LABELS), case.asarray(PROBS), norm="l3")
    with pytest.raises(ValueError, match="n_bins"):
        metrics.expected_calibration_error(case.asarray(LABELS), case.asarray(PROBS), n_bins=0)
    bad = PROBS.copy()
    bad[2, 2] = -0.1
    if case.library in ("numpy", "array_api_strict") or case.name == "torch":
        with pytest.raises(ValueError):
            metrics.expected_calibration_error(case.asarray(LABELS), case.asarray(bad))
    else:
        out = case.call(metrics.expected_calibration_error, case.asarray(LABELS), case.asarray(bad))
        assert np.isnan(case.to_numpy(out))


# -- accumulators: merge equals one-shot ---------------------------------------------------------


def _accumulators():
    """(accumulator factory, one-shot function, data columns, per-batch keyword columns)."""
    logits = RNG.normal(size=(N, C)) * 3.0
    tokens = np.where(RNG.uniform(size=N) < 0.2, -100, LABELS)
    return [
        (lambda: metrics.LogLoss(), metrics.log_loss, (LABELS, PROBS), {"sample_weight": WEIGHTS}),
        (
            lambda: metrics.LogLoss(normalize=False),
            lambda y, p, **k: metrics.log_loss(y, p, normalize=False, **k),
            (Y_BINARY, P_BINARY),
            {},
        ),
        (lambda: metrics.Perplexity(), metrics.perplexity, (logits, tokens), {}),
        (lambda: metrics.BitsPerToken(), metrics.bits_per_token, (logits, tokens), {}),
        (
            lambda: metrics.BrierScore(),
            metrics.brier_score,
            (LABELS, PROBS),
            {"sample_weight": WEIGHTS},
        ),
        (lambda: metrics.BrierScore(), metrics.brier_score, (Y_BINARY, P_BINARY), {}),
        (
            lambda: metrics.ExpectedCalibrationError(norm="l1"),
            metrics.expected_calibration_error,
            (LABELS, PROBS),
            {},
        ),
        (
            lambda: metrics.ExpectedCalibrationError(norm="l2"),
            lambda y, p: metrics.expected_calibration_error(y, p, norm="l2"),
            (LABELS, PROBS),
            {},
        ),
        (
            lambda: metrics.ExpectedCalibrationError(norm="max", n_bins=5),
            lambda y, p: metrics.expected_calibration_error(y, p, norm="max", n_bins=5),
            (Y_BINARY, P_BINARY),
            {},
        ),
    ]


ACCUMULATORS = _accumulators()


def _merged(case: Case, make, columns, keywords, cuts: list[int]):
    bounds = [0, *cuts, N]
    parts = []
    for lo, hi in itertools.pairwise(bounds):
        acc = make()
        if hi > lo:  # an accumulator that saw nothing merges as a no-op
            acc = acc.update(
                *(case.asarray(c[lo:hi]) for c in columns),
                **{k: case.asarray(v[lo:hi]) for k, v in keywords.items()},
            )
        parts.append(acc)
    # merge as a tree, the way blocks from several workers would meet
    while len(parts) > 1:
        parts = [
            parts[i].merge(parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0].compute()


@pytest.mark.parametrize("index", range(len(ACCUMULATORS)))
def test_merge_equals_one_shot_on_every_backend(case: Case, index: int) -> None:
    make, one_shot, columns, keywords = ACCUMULATORS[index]
    expected = case.to_numpy(
        one_shot(
            *(case.asarray(c) for c in columns), **{k: case.asarray(v) for k, v in keywords.items()}
        )
    )
    merged = case.call(lambda *_: _merged(case, make, columns, keywords, [7, 8, 30, 31, 59]))
    assert_result(case, merged, expected, rtol=1e-12 if case.float64 else 1e-5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(0, len(ACCUMULATORS) - 1),
    cuts=st.lists(st.integers(0, N), max_size=8).map(sorted),
)
def test_merge_over_random_chunkings_equals_one_shot(index: int, cuts: list[int]) -> None:
    from backends import make_case

    case = make_case("numpy")
    make, one_shot, columns, keywords = ACCUMULATORS[index]
    expected = np.asarray(one_shot(*columns, **keywords))
    merged = np.asarray(_merged(case, make, columns, keywords, cuts))
    np.testing.assert_allclose(merged, expected, rtol=1e-12)


def test_state_stays_in_the_callers_library_and_device(case: Case) -> None:
    acc = metrics.ExpectedCalibrationError().update(case.asarray(LABELS), case.asarray(PROBS))
    for name, value in acc.state.items():
        assert (
            type(value).__module__.split(".")[0]
            == type(case.asarray(np.zeros(1))).__module__.split(".")[0]
        ), name
        if case.library not in ("dask", "jax"):
            import array_api_compat

            assert array_api_compat.device(value) == case.device


def test_accumulator_errors(case: Case) -> None:
    with pytest.raises(ValueError, match="before any update"):
        metrics.LogLoss().compute()
    acc = metrics.LogLoss().update(case.asarray(LABELS), case.asarray(PROBS))
    with pytest.raises(ValueError, match="same options"):
        acc.merge(metrics.LogLoss(normalize=False))
    with pytest.raises(ValueError, match="same options"):
        acc.merge(metrics.Perplexity())
    assert acc.merge(metrics.LogLoss()) is acc
    brier = metrics.BrierScore().update(case.asarray(Y_BINARY), case.asarray(P_BINARY))
    other = metrics.BrierScore().update(case.asarray(LABELS), case.asarray(PROBS))
    with pytest.raises(ValueError, match="classes"):
        brier.merge(other)


def test_accumulators_work_across_libraries_only_when_merged_alike() -> None:
    pytest.importorskip("array_api_strict")
    import array_api_strict as xps

    a = metrics.LogLoss().update(LABELS, PROBS)
    b = metrics.LogLoss().update(xps.asarray(LABELS), xps.asarray(PROBS))
    with pytest.raises(TypeError, match="one array library"):
        a.merge(b)
