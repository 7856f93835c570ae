"""The boosting recipe (docs/recipes/boosting.md) runs, and its objectives are right.

The recipe's code blocks are executed as written when XGBoost and LightGBM are installed;
the objectives themselves are checked against central finite differences of the xloss
losses everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xloss

RECIPE = Path(__file__).resolve().parents[1] / "docs" / "recipes" / "boosting.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", RECIPE.read_text(), flags=re.DOTALL)


def _run(block: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"print": lambda *args: None}
    exec(compile(block, str(RECIPE), "exec"), namespace)  # the recipe is our own file
    return namespace


def test_recipe_has_both_objectives() -> None:
    blocks = _blocks()
    assert len(blocks) == 2
    assert "xgboost" in blocks[0]
    assert "lightgbm" in blocks[1]


def test_xgboost_multiclass_recipe_trains() -> None:
    pytest.importorskip("xgboost")
    ns = _run(_blocks()[0])
    margins, y = ns["margins"], ns["y"]
    assert margins.shape == (len(y), ns["n_classes"])
    # A uniform guess costs log 3 = 1.0986 nats; 30 rounds on this easy problem do far better.
    assert float(xloss.cross_entropy(margins, y)) < 0.3
    assert np.mean(np.argmax(margins, axis=1) == y) > 0.9


def test_lightgbm_binary_recipe_equals_builtin_objective() -> None:
    lgb = pytest.importorskip("lightgbm")
    ns = _run(_blocks()[1])
    builtin = lgb.train(
        {
            "objective": "binary",
            "boost_from_average": False,
            "num_leaves": 7,
            "learning_rate": 0.2,
            "verbose": -1,
        },
        lgb.Dataset(ns["X"], label=ns["y"]),
        num_boost_round=20,
    )
    expected = builtin.predict(ns["X"], raw_score=True)
    np.testing.assert_allclose(ns["scores"], expected, rtol=1e-10, atol=1e-10)


# -- the objectives against finite differences (no boosting library needed) -------------------


def _finite_differences(loss: Any, x: np.ndarray) -> tuple[Any, Any]:
    """Central differences of a scalar function: gradient and Hessian diagonal.

    Steps balance truncation against rounding: 1e-6 for the first derivative, 1e-4 for
    the second (whose rounding error grows as 1 / step**2).
    """
    gradient = np.empty_like(x)
    hessian = np.empty_like(x)
    centre = loss(x)
    for index in np.ndindex(x.shape):
        shifted = {}
        for step in (1e-6, 1e-4):
            up, down = x.copy(), x.copy()
            up[index] += step
            down[index] -= step
            shifted[step] = (loss(up), loss(down))
        f_up, f_down = shifted[1e-6]
        gradient[index] = (f_up - f_down) / 2e-6
        f_up, f_down = shifted[1e-4]
        hessian[index] = (f_up - 2 * centre + f_down) / 1e-8
    return gradient, hessian


def test_softmax_objective_matches_finite_differences() -> None:
    rng = np.random.default_rng(5)
    margins = rng.normal(size=(8, 4))
    labels = rng.integers(0, 4, size=8)
    _, grad, hess = xloss.grad.cross_entropy(margins, labels, reduction="sum", hessian=True)
    fd_grad, fd_hess = _finite_differences(
        lambda m: float(xloss.cross_entropy(m, labels, reduction="sum")), margins
    )
    np.testing.assert_allclose(grad, fd_grad, atol=1e-8)
    np.testing.assert_allclose(hess, fd_hess, atol=1e-5)


@pytest.mark.parametrize("pos_weight", [None, 3.0])
def test_logistic_objective_matches_finite_differences(pos_weight: float | None) -> None:
    rng = np.random.default_rng(6)
    scores = rng.normal(size=12) * 2
    labels = (rng.uniform(size=12) < 0.4).astype(np.float64)
    weight = None if pos_weight is None else np.array([pos_weight])
    _, grad, hess = xloss.grad.binary_cross_entropy_with_logits(
        scores, labels, reduction="sum", pos_weight=weight, hessian=True
    )
    fd_grad, fd_hess = _finite_differences(
        lambda s: float(
            xloss.binary_cross_entropy_with_logits(s, labels, reduction="sum", pos_weight=weight)
        ),
        scores,
    )
    np.testing.assert_allclose(grad, fd_grad, atol=1e-8)
    np.testing.assert_allclose(hess, fd_hess, atol=1e-5)


def test_focal_objective_matches_finite_differences() -> None:
    rng = np.random.default_rng(7)
    scores = rng.normal(size=10) * 2
    labels = (rng.uniform(size=10) < 0.3).astype(np.float64)
    _, grad, hess = xloss.grad.sigmoid_focal_loss(scores, labels, reduction="sum", hessian=True)
    fd_grad, fd_hess = _finite_differences(
        lambda s: float(xloss.sigmoid_focal_loss(s, labels, reduction="sum")), scores
    )
    np.testing.assert_allclose(grad, fd_grad, atol=1e-8)
    np.testing.assert_allclose(hess, fd_hess, atol=1e-5)
