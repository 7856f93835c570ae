r"""Evaluation metrics on any array library, with mergeable accumulators.

Each metric is a function (``log_loss``, ``perplexity``, ``bits_per_token``,
``brier_score``, ``expected_calibration_error``) and an accumulator class of the same
metric (:class:`LogLoss`, :class:`Perplexity`, :class:`BitsPerToken`,
:class:`BrierScore`, :class:`ExpectedCalibrationError`) for data that arrives in parts:
batches of a stream, shards on several devices, blocks on several workers.

An accumulator is an immutable value. ``update`` returns a new accumulator holding the
partial result of one more batch, ``merge`` returns one holding two partial results,
``compute`` gives the metric; the merged result equals the one-shot value up to the order
of summation. The state (``.state``) is a handful of arrays in the caller's own library,
on the caller's own device, and **every state array is a sum**: merging adds them, so a
cross-device all-reduce (sum) of each state array merges too. The functions are exactly
``Accumulator(...).update(...).compute()``.

>>> import numpy as np
>>> from xloss.metrics import LogLoss, log_loss
>>> y, p = np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.6, 0.4])
>>> left = LogLoss().update(y[:3], p[:3])
>>> right = LogLoss().update(y[3:], p[3:])
>>> bool(np.isclose(left.merge(right).compute(), log_loss(y, p)))
True

Nothing here forces a computation: on Dask the results (and states) are lazy until the
caller computes them, under ``jax.jit`` they trace. Bad values (probabilities outside
[0, 1], labels outside the classes) raise ``ValueError`` where values may be read (NumPy,
array-api-strict, torch on the CPU) and give NaN elsewhere.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from . import _agnostic  # noqa: F401  (registers the generic primitives)
from ._backend import (
    Backend,
    floating_inputs,
    quiet,
    resolve,
    take_along_axis,
    to_dtype,
)
from ._dispatch import call
from ._typing import Array, DType

__all__ = [
    "Accumulator",
    "BitsPerToken",
    "BrierScore",
    "ExpectedCalibrationError",
    "LogLoss",
    "Perplexity",
    "bits_per_token",
    "brier_score",
    "expected_calibration_error",
    "log_loss",
    "perplexity",
]

_A = TypeVar("_A", bound="Accumulator")


@quiet
def _quietly(fn: Callable[..., Any], *arrays: Any, **options: Any) -> Any:
    """Run ``fn`` under :func:`quiet`, which looks at positional arrays only."""
    return fn(*arrays, **options)


class Accumulator:
    """Base class of the mergeable metric accumulators (update / merge / compute).

    Subclasses name their state arrays in ``_fields``, compute one batch's partial state in
    ``_partial`` and the metric from a state in ``_finish``.
    """

    __slots__ = ("_out_dtype", "_state")
    _fields: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._state: tuple[Array, ...] | None = None
        self._out_dtype: DType | None = None

    # -- what subclasses provide ---------------------------------------------------------
    def _options(self) -> tuple[Any, ...]:
        """Everything that must agree for two accumulators to merge."""
        return ()

    def _finish(self, state: tuple[Array, ...], backend: Backend) -> Array:
        raise NotImplementedError

    # -- the shared machinery --------------------------------------------------------------
    @property
    def state(self) -> dict[str, Array] | None:
        """The partial sums by name (``None`` before the first update)."""
        if self._state is None:
            return None
        return dict(zip(self._fields, self._state, strict=True))

    def _with(self: _A, state: tuple[Array, ...], out_dtype: DType) -> _A:
        new = copy.copy(self)
        new._state = state
        new._out_dtype = out_dtype
        return new

    def _added(self: _A, state: tuple[Array, ...], out_dtype: DType, backend: Backend) -> _A:
        if backend.kind == "numpy":  # NumPy reductions give scalars; keep 0-d arrays
            state = tuple(backend.xp.asarray(a) for a in state)
        if self._state is not None:
            backend = resolve(*self._state, *state)  # one library, one device
            if out_dtype != self._out_dtype:
                out_dtype = backend.xp.result_type(out_dtype, self._out_dtype)
            state = tuple(a + b for a, b in zip(self._state, state, strict=True))
            if backend.kind == "numpy":
                state = tuple(backend.xp.asarray(a) for a in state)
        return self._with(state, out_dtype)

    def merge(self: _A, other: _A) -> _A:
        """A new accumulator holding both partial results (``other`` of the same metric)."""
        if type(other) is not type(self) or other._options() != self._options():
            raise ValueError(
                f"xloss: can only merge {type(self).__name__} accumulators with the same "
                f"options, got {other!r}"
            )
        if other._state is None:
            return self
        return _quietly(
            lambda *arrays: self._added(arrays, other._out_dtype, resolve(*arrays)),
            *other._state,
        )

    def compute(self) -> Array:
        """The metric of everything seen, as a 0-d array in the state's library and device."""
        if self._state is None:
            raise ValueError(f"xloss: {type(self).__name__}.compute() before any update")
        state = self._state

        def finish(*arrays: Array) -> Array:
            backend = resolve(*arrays)
            return to_dtype(self._finish(arrays, backend), self._out_dtype, backend)

        return _quietly(finish, *state)

    def __repr__(self) -> str:
        options = ", ".join(repr(o) for o in self._options())
        seen = "empty" if self._state is None else "updated"
        return f"{type(self).__name__}({options}) [{seen}]"


# -- shared checks and pieces ---------------------------------------------------------------


def _comparable(y_true: Array, backend: Backend) -> Array:
    """Labels as numbers (booleans as 0/1), so they compare with class values."""
    xp = backend.xp
    if xp.isdtype(y_true.dtype, "bool"):
        return xp.astype(y_true, xp.int32)
    return y_true


def _classes(
    labels: Sequence[Any] | Array | None, n_classes: int, y_true: Array, backend: Backend
) -> Array:
    """The class values of the columns: sorted ``labels``, or ``0 .. n_classes - 1``."""
    xp = backend.xp
    if labels is None:
        values: Any = list(range(n_classes))
    elif isinstance(labels, (list, tuple, range)):
        values = sorted(set(labels))
    else:
        values = None
    if values is not None:
        count = len(values)
    else:
        count = labels.shape[0]  # type: ignore[union-attr]
    if count < 2:
        raise ValueError(f"xloss: labels must hold at least two classes, got {labels!r}")
    if count != n_classes:
        raise ValueError(
            f"xloss: the number of classes in labels ({count}) differs from the "
            f"number of columns of the probabilities ({n_classes})"
        )
    if values is not None:
        return backend.asarray(values, dtype=y_true.dtype)
    return xp.astype(xp.sort(labels), y_true.dtype)


def _check_samples(y_true: Array, y_pred: Array, sample_weight: Array | None) -> None:
    n = y_pred.shape[0] if y_pred.ndim else None
    if y_pred.ndim not in (1, 2):
        raise ValueError(f"xloss: probabilities must be 1-D or 2-D, got shape {y_pred.shape}")
    if y_true.shape[:1] != (n,) or y_true.ndim not in (1, 2):
        raise ValueError(
            f"xloss: y_true of shape {tuple(y_true.shape)} does not match "
            f"probabilities of shape {tuple(y_pred.shape)}"
        )
    if sample_weight is not None and tuple(sample_weight.shape) != (n,):
        raise ValueError(
            f"xloss: sample_weight must have shape ({n},), got {tuple(sample_weight.shape)}"
        )


def _indicator_and_probabilities(
    y_true: Array,
    y_prob: Array,
    labels: Sequence[Any] | Array | None,
    backend: Backend,
) -> tuple[Array, Array, Array]:
    """One-hot ``y_true``, ``(n, C)`` probabilities and a per-row "invalid" flag.

    1-D probabilities are those of the positive class (the greater label). A 2-D ``y_true``
    of the probabilities' shape is taken as an indicator matrix.
    """
    xp = backend.xp
    if y_prob.ndim == 1:
        y_prob = xp.expand_dims(y_prob, axis=1)
    if y_prob.shape[1] == 1:
        y_prob = xp.concat([1.0 - y_prob, y_prob], axis=1)
    outside = (y_prob < 0.0) | (y_prob > 1.0) | xp.isnan(y_prob)
    if backend.inspectable and bool(xp.any(outside)):
        raise ValueError("xloss: probabilities must lie in [0, 1], got values outside")
    invalid = xp.any(outside, axis=1)
    if y_true.ndim == 2:
        if tuple(y_true.shape) != tuple(y_prob.shape):
            raise ValueError(
                f"xloss: an indicator y_true must have the probabilities' shape "
                f"{tuple(y_prob.shape)}, got {tuple(y_true.shape)}"
            )
        return xp.astype(y_true, y_prob.dtype), y_prob, invalid
    y_true = _comparable(y_true, backend)
    classes = _classes(labels, y_prob.shape[1], y_true, backend)
    match = xp.expand_dims(y_true, axis=1) == xp.expand_dims(classes, axis=0)
    unknown = ~xp.any(match, axis=1)
    if backend.inspectable and bool(xp.any(unknown)):
        raise ValueError(
            "xloss: y_true contains values that are not among the classes "
            + ("0 .. C-1 (pass labels=)" if labels is None else f"in labels {labels!r}")
        )
    return xp.astype(match, y_prob.dtype), y_prob, invalid | unknown


def _sample_weights(
    sample_weight: Array | None, like: Array, backend: Backend
) -> tuple[Array, Array]:
    xp = backend.xp
    if sample_weight is None:
        ones = xp.ones_like(like)
        return ones, xp.sum(ones)
    w = xp.astype(sample_weight, like.dtype)
    return w, xp.sum(w)


# -- log-loss -------------------------------------------------------------------------------


class LogLoss(Accumulator):
    """Accumulator of :func:`log_loss` (state: weighted loss sum, weight sum).

    Parameters
    ----------
    normalize : bool, optional
        Whether ``compute`` divides by the sum of the weights (default) or returns the sum.
    labels : sequence or array, optional
        The class values of the columns (sorted); by default ``0 .. C - 1``.
    """

    __slots__ = ("labels", "normalize")
    _fields = ("loss_sum", "weight_sum")

    def __init__(
        self, *, normalize: bool = True, labels: Sequence[Any] | Array | None = None
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.labels = labels

    def _options(self) -> tuple[Any, ...]:
        labels = self.labels
        return (self.normalize, tuple(labels) if isinstance(labels, (list, range)) else labels)

    def update(
        self, y_true: Array, y_pred: Array, *, sample_weight: Array | None = None
    ) -> LogLoss:
        """A new accumulator that has also seen this batch."""
        return _quietly(self._update, y_true, y_pred, sample_weight)

    def _update(self, y_true: Array, y_pred: Array, sample_weight: Array | None) -> LogLoss:
        backend = resolve(y_true, y_pred, sample_weight)
        (y_pred,), out_dtype = floating_inputs(backend, y_pred=y_pred)
        _check_samples(y_true, y_pred, sample_weight)
        xp = backend.xp
        indicator, y_prob, invalid = _indicator_and_probabilities(
            y_true, y_pred, self.labels, backend
        )
        eps = float(xp.finfo(out_dtype).eps)
        clipped = xp.minimum(xp.maximum(y_prob, eps), 1.0 - eps)
        # sklearn's -sum(xlogy(onehot, clip(p))): the clip keeps log away from 0.
        loss = -xp.sum(call("xlogy", indicator, clipped, backend=backend), axis=1)
        loss = xp.where(invalid, math.nan, loss)
        w, weight_sum = _sample_weights(sample_weight, loss, backend)
        return self._added((xp.sum(w * loss), weight_sum), out_dtype, backend)

    def _finish(self, state: tuple[Array, ...], backend: Backend) -> Array:
        loss_sum, weight_sum = state
        return loss_sum / weight_sum if self.normalize else loss_sum


def log_loss(
    y_true: Array,
    y_pred: Array,
    *,
    normalize: bool = True,
    sample_weight: Array | None = None,
    labels: Sequence[Any] | Array | None = None,
) -> Array:
    r"""Log-loss (cross-entropy of predicted probabilities), scikit-learn's definition.

    .. math:: \mathcal L = \frac{\sum_i w_i \ell_i}{\sum_i w_i},\qquad
              \ell_i = -\sum_c y_{ic} \log \operatorname{clip}(p_{ic}, \epsilon, 1 - \epsilon)

    with :math:`\epsilon` the machine epsilon of the probabilities' dtype.

    Parameters
    ----------
    y_true : array
        Class labels, shape ``(n,)``: indices ``0 .. C - 1`` (``0``/``1`` or booleans for
        1-D probabilities), or values from ``labels``; or an indicator matrix of the
        probabilities' shape.
    y_pred : array
        Probabilities, shape ``(n, C)``, or ``(n,)`` for the positive (greater) class.
        Rows are not renormalised.
    normalize : bool, optional
        Return the (weighted) mean (default) or the sum.
    sample_weight : array, optional
        Per-sample weights, shape ``(n,)``.
    labels : sequence or array, optional
        The class values, one per column, in sorted order (scikit-learn's ``labels``).
        Without it, labels are column indices, so no class needs to occur in ``y_true``.

    Returns
    -------
    array
        A 0-d array in the probabilities' library, device and dtype.

    Raises
    ------
    ValueError
        Probabilities outside [0, 1] or labels outside the classes, where values may be
        read; elsewhere these give NaN.

    See Also
    --------
    sklearn.metrics.log_loss : the same value (it returns a Python float).
    LogLoss : the mergeable accumulator.

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.metrics import log_loss
    >>> round(float(log_loss(np.array([0, 1]), np.array([[0.5, 0.5], [0.2, 0.8]]))), 12)
    0.458145365937
    """
    acc = LogLoss(normalize=normalize, labels=labels)
    return acc.update(y_true, y_pred, sample_weight=sample_weight).compute()


# -- perplexity and bits per token -----------------------------------------------------------


class Perplexity(Accumulator):
    """Accumulator of :func:`perplexity` (state: summed cross-entropy in nats, token count).

    Parameters
    ----------
    ignore_index : int, optional
        Target value that is skipped (default ``-100``).
    axis : int, optional
        The class axis of the logits; ``None`` is PyTorch's (1, or 0 for 1-D logits).
    """

    __slots__ = ("axis", "ignore_index")
    _fields = ("nll_sum", "count")

    def __init__(self, *, ignore_index: int = -100, axis: int | None = None) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.axis = axis

    def _options(self) -> tuple[Any, ...]:
        return (self.ignore_index, self.axis)

    def update(self, input: Array, target: Array) -> Perplexity:
        """A new accumulator that has also seen these logits and targets."""
        return _quietly(self._update, input, target)

    def _update(self, input: Array, target: Array) -> Perplexity:
        backend = resolve(input, target)
        (input,), out_dtype = floating_inputs(backend, input=input)
        xp = backend.xp
        if not xp.isdtype(target.dtype, "integral"):
            raise TypeError(f"xloss: target must hold integer classes, got {target.dtype}")
        ndim = input.ndim
        if ndim == 0:
            raise ValueError("xloss: logits need a class axis")
        axis = self.axis if self.axis is not None else (1 if ndim >= 2 else 0)
        if not -ndim <= axis < ndim:
            raise ValueError(f"xloss: axis {axis} is out of range for {ndim}-D logits")
        axis %= ndim
        expected = tuple(n for i, n in enumerate(input.shape) if i != axis)
        if tuple(target.shape) != expected:
            raise ValueError(
                f"xloss: target shape {tuple(target.shape)} does not match logits of shape "
                f"{tuple(input.shape)} with the class axis {axis} (expected {expected})"
            )
        n_classes = input.shape[axis]
        ignored = target == self.ignore_index
        bad = ~ignored & ((target < 0) | (target >= n_classes))
        if backend.inspectable and bool(xp.any(bad)):
            raise ValueError(f"xloss: target holds classes outside 0 .. {n_classes - 1}")
        safe = xp.where(ignored | bad, 0, target)
        # Cross-entropy from logits: logsumexp minus the target's logit (never log(softmax)).
        lse = call("logsumexp", input, axis=axis, keepdims=True, backend=backend)
        picked = take_along_axis(input, xp.expand_dims(safe, axis=axis), axis, backend)
        nll = xp.squeeze(lse - picked, axis=axis)
        nll = xp.where(ignored, 0.0, xp.where(bad, math.nan, nll))
        count = xp.sum(xp.astype(~ignored, nll.dtype))
        return self._added((xp.sum(nll), count), out_dtype, backend)

    def _finish(self, state: tuple[Array, ...], backend: Backend) -> Array:
        nll_sum, count = state
        return backend.xp.exp(nll_sum / count)


class BitsPerToken(Perplexity):
    """Accumulator of :func:`bits_per_token` (the same state as :class:`Perplexity`)."""

    __slots__ = ()

    def _finish(self, state: tuple[Array, ...], backend: Backend) -> Array:
        nll_sum, count = state
        return nll_sum / count / math.log(2.0)


_TOKENS_DOC = """
    Parameters
    ----------
    input : array
        Logits (unnormalised log-probabilities), with the classes along ``axis``.
    target : array
        Integer classes, the logits' shape without ``axis``; ``ignore_index`` entries are
        skipped.
    ignore_index : int, optional
        Target value that is skipped (default ``-100``, as PyTorch).
    axis : int, optional
        The class axis; ``None`` (default) is PyTorch's: 1, or 0 for 1-D logits. Pass
        ``axis=-1`` for ``(batch, time, vocab)`` logits.

    Returns
    -------
    array
        A 0-d array in the logits' library, device and dtype; NaN when every target is
        ignored.
"""


def perplexity(
    input: Array, target: Array, *, ignore_index: int = -100, axis: int | None = None
) -> Array:
    return Perplexity(ignore_index=ignore_index, axis=axis).update(input, target).compute()


perplexity.__doc__ = (
    r"""Perplexity: the exponential of the mean cross-entropy per token, from logits.

    .. math:: \operatorname{PPL} = \exp\Big(\frac{1}{|T|} \sum_{i \in T}
              \big(\operatorname{logsumexp}(x_i) - x_{i, y_i}\big)\Big)

    over the non-ignored tokens :math:`T`; ``exp(F.cross_entropy(input, target))`` in
    PyTorch, computed stably (never ``log(softmax)``, which underflows).
"""
    + _TOKENS_DOC
    + """
    See Also
    --------
    torchmetrics.text.Perplexity : the same value (from probabilities it forms itself).
    Perplexity : the mergeable accumulator.
    bits_per_token : the same mean cross-entropy, in bits.

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.metrics import perplexity
    >>> float(perplexity(np.zeros((3, 4)), np.array([0, 1, 2])))  # uniform over 4 classes
    4.0
    """
)


def bits_per_token(
    input: Array, target: Array, *, ignore_index: int = -100, axis: int | None = None
) -> Array:
    return BitsPerToken(ignore_index=ignore_index, axis=axis).update(input, target).compute()


bits_per_token.__doc__ = (
    r"""Mean cross-entropy per token in bits (``log2`` of the perplexity), from logits.

    .. math:: \operatorname{BPT} = \frac{1}{|T| \log 2} \sum_{i \in T}
              \big(\operatorname{logsumexp}(x_i) - x_{i, y_i}\big)
"""
    + _TOKENS_DOC
    + """
    See Also
    --------
    perplexity : ``2 ** bits_per_token``.
    BitsPerToken : the mergeable accumulator.

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.metrics import bits_per_token
    >>> float(bits_per_token(np.zeros((3, 4)), np.array([0, 1, 2])))  # two bits
    2.0
    """
)


# -- Brier score -----------------------------------------------------------------------------


class BrierScore(Accumulator):
    """Accumulator of :func:`brier_score` (state: weighted squared-error sum, weight sum).

    Parameters
    ----------
    labels : sequence or array, optional
        The class values of the columns (sorted); by default ``0 .. C - 1``.
    scale_by_half : bool or "auto", optional
        Halve the score; ``"auto"`` halves it for binary problems (scikit-learn).
    """

    __slots__ = ("_n_classes", "labels", "scale_by_half")
    _fields = ("squared_error_sum", "weight_sum")

    def __init__(
        self,
        *,
        labels: Sequence[Any] | Array | None = None,
        scale_by_half: bool | str = "auto",
    ) -> None:
        super().__init__()
        if scale_by_half not in (True, False, "auto"):
            raise ValueError(
                f"xloss: scale_by_half must be a bool or 'auto', got {scale_by_half!r}"
            )
        self.labels = labels
        self.scale_by_half = scale_by_half
        self._n_classes: int | None = None

    def _options(self) -> tuple[Any, ...]:
        labels = self.labels
        return (
            tuple(labels) if isinstance(labels, (list, range)) else labels,
            self.scale_by_half,
        )

    def merge(self, other: BrierScore) -> BrierScore:
        if (
            isinstance(other, BrierScore)
            and None not in (self._n_classes, other._n_classes)
            and self._n_classes != other._n_classes
        ):
            raise ValueError("xloss: cannot merge Brier scores over different numbers of classes")
        merged = super().merge(other)
        if merged._n_classes is None:
            merged._n_classes = other._n_classes
        return merged

    def update(
        self, y_true: Array, y_prob: Array, *, sample_weight: Array | None = None
    ) -> BrierScore:
        """A new accumulator that has also seen this batch."""
        return _quietly(self._update, y_true, y_prob, sample_weight)

    def _update(self, y_true: Array, y_prob: Array, sample_weight: Array | None) -> BrierScore:
        backend = resolve(y_true, y_prob, sample_weight)
        (y_prob,), out_dtype = floating_inputs(backend, y_prob=y_prob)
        _check_samples(y_true, y_prob, sample_weight)
        n_classes = 2 if y_prob.ndim == 1 else max(y_prob.shape[1], 2)
        if self._n_classes is not None and n_classes != self._n_classes:
            raise ValueError(
                f"xloss: this BrierScore has seen {self._n_classes} classes, got {n_classes}"
            )
        xp = backend.xp
        indicator, probabilities, invalid = _indicator_and_probabilities(
            y_true, y_prob, self.labels, backend
        )
        diff = indicator - probabilities
        squared = xp.sum(diff * diff, axis=1)
        squared = xp.where(invalid, math.nan, squared)
        w, weight_sum = _sample_weights(sample_weight, squared, backend)
        new = self._added((xp.sum(w * squared), weight_sum), out_dtype, backend)
        new._n_classes = n_classes
        return new

    def _finish(self, state: tuple[Array, ...], backend: Backend) -> Array:
        total, weight_sum = state
        score = total / weight_sum
        half = self.scale_by_half
        if half == "auto":
            half = self._n_classes is not None and self._n_classes < 3
        return 0.5 * score if half else score


def brier_score(
    y_true: Array,
    y_prob: Array,
    *,
    sample_weight: Array | None = None,
    labels: Sequence[Any] | Array | None = None,
    scale_by_half: bool | str = "auto",
) -> Array:
    r"""Brier score: the mean squared distance between predicted probabilities and outcomes.

    .. math:: \operatorname{BS} = s\,\frac{\sum_i w_i \sum_c (y_{ic} - p_{ic})^2}{\sum_i w_i}

    with :math:`s = \tfrac12` for binary problems (``scale_by_half="auto"``), so the binary
    score is :math:`\frac{1}{n}\sum_i (y_i - p_i)^2`, and :math:`s = 1` for three or more
    classes (the multiclass Brier score).

    Parameters
    ----------
    y_true : array
        Labels, shape ``(n,)``: ``0``/``1`` (or booleans) for 1-D probabilities, class
        indices ``0 .. C - 1`` or values from ``labels``; or an indicator matrix.
    y_prob : array
        Probabilities of the positive class, shape ``(n,)``, or of every class, ``(n, C)``.
    sample_weight : array, optional
        Per-sample weights, shape ``(n,)``.
    labels : sequence or array, optional
        The class values, one per column, in sorted order.
    scale_by_half : bool or "auto", optional
        Halve the score (default: for binary problems).

    Returns
    -------
    array
        A 0-d array in the probabilities' library, device and dtype.

    See Also
    --------
    sklearn.metrics.brier_score_loss : the same value.
    BrierScore : the mergeable accumulator.

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.metrics import brier_score
    >>> round(float(brier_score(np.array([0, 1, 1]), np.array([0.1, 0.9, 0.4]))), 12)
    0.126666666667
    """
    acc = BrierScore(labels=labels, scale_by_half=scale_by_half)
    return acc.update(y_true, y_prob, sample_weight=sample_weight).compute()


# -- expected calibration error ---------------------------------------------------------------

_NORMS = ("l1", "l2", "max")


class ExpectedCalibrationError(Accumulator):
    """Accumulator of :func:`expected_calibration_error`.

    State: per bin the count, the sum of confidences and the sum of accuracies
    (``n_bins + 1`` bins: the last holds confidences of exactly 1, as torchmetrics), and
    the number of invalid rows (which make the result NaN).

    Parameters
    ----------
    n_bins : int, optional
        Number of equal-width confidence bins on [0, 1] (default 15).
    norm : {"l1", "l2", "max"}, optional
        Expected (l1), root-mean-square (l2) or maximum calibration error.
    """

    __slots__ = ("n_bins", "norm")
    _fields = ("count", "confidence_sum", "accuracy_sum", "invalid")

    def __init__(self, *, n_bins: int = 15, norm: str = "l1") -> None:
        super().__init__()
        if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
            raise ValueError(f"xloss: n_bins must be a positive integer, got {n_bins!r}")
        if norm not in _NORMS:
            raise ValueError(f"xloss: norm must be one of 'l1', 'l2', 'max', got {norm!r}")
        self.n_bins = n_bins
        self.norm = norm

    def _options(self) -> tuple[Any, ...]:
        return (self.n_bins, self.norm)

    def update(self, y_true: Array, y_prob: Array) -> ExpectedCalibrationError:
        """A new accumulator that has also seen this batch."""
        return _quietly(self._update, y_true, y_prob)

    def _update(self, y_true: Array, y_prob: Array) -> ExpectedCalibrationError:
        backend = resolve(y_true, y_prob)
        (y_prob,), out_dtype = floating_inputs(backend, y_prob=y_prob)
        _check_samples(y_true, y_prob, None)
        if y_true.ndim != 1:
            raise ValueError(f"xloss: y_true must be 1-D, got shape {tuple(y_true.shape)}")
        xp = backend.xp
        y_true = _comparable(y_true, backend)
        outside = (y_prob < 0.0) | (y_prob > 1.0) | xp.isnan(y_prob)
        if y_prob.ndim == 1:
            # torchmetrics' binary form: the confidence is P(positive), the "accuracy" the
            # outcome itself.
            confidence = y_prob
            valid_label = (y_true == 0) | (y_true == 1)
            accuracy = xp.astype(y_true == 1, y_prob.dtype)
            invalid = outside | ~valid_label
        else:
            confidence = xp.max(y_prob, axis=1)
            predicted = xp.argmax(y_prob, axis=1)
            n_classes = y_prob.shape[1]
            valid_label = (y_true >= 0) & (y_true < n_classes)
            accuracy = xp.astype(xp.astype(predicted, y_true.dtype) == y_true, y_prob.dtype)
            invalid = xp.any(outside, axis=1) | ~valid_label
        if backend.inspectable and bool(xp.any(invalid)):
            raise ValueError("xloss: probabilities must lie in [0, 1] and labels be valid classes")
        # Bin i holds lower_i <= c < upper_i: torch.bucketize(c, linspace(0, 1, n + 1),
        # right=True) - 1 written as comparisons, so every shape is static (jit, Dask).
        n = self.n_bins
        dtype = y_prob.dtype
        lower = backend.asarray([i / n for i in range(n + 1)], dtype=dtype)
        upper = backend.asarray([i / n for i in range(1, n + 1)] + [math.inf], dtype=dtype)
        c = xp.expand_dims(confidence, axis=1)
        member = (c >= lower) & (c < upper) & xp.expand_dims(~invalid, axis=1)
        counts = xp.sum(xp.astype(member, dtype), axis=0)
        confidence_sum = xp.sum(xp.where(member, c, 0.0), axis=0)
        accuracy_sum = xp.sum(xp.where(member, xp.expand_dims(accuracy, axis=1), 0.0), axis=0)
        invalid_count = xp.sum(xp.astype(invalid, dtype))
        return self._added(
            (counts, confidence_sum, accuracy_sum, invalid_count), out_dtype, backend
        )

    def _finish(self, state: tuple[Array, ...], backend: Backend) -> Array:
        xp = backend.xp
        counts, confidence_sum, accuracy_sum, invalid = state
        occupied = counts > 0
        safe = xp.where(occupied, counts, 1.0)
        gap = xp.where(occupied, accuracy_sum / safe - confidence_sum / safe, 0.0)
        share = counts / xp.sum(counts)
        if self.norm == "l1":
            value = xp.sum(xp.abs(gap) * share)
        elif self.norm == "l2":
            value = xp.sqrt(xp.sum(gap * gap * share))
        else:
            value = xp.max(xp.abs(gap))
        return xp.where(invalid > 0, math.nan, value)


def expected_calibration_error(
    y_true: Array, y_prob: Array, *, n_bins: int = 15, norm: str = "l1"
) -> Array:
    r"""Calibration error: how far confidence is from accuracy, over equal-width bins.

    .. math:: \mathrm{ECE}_{l1} = \sum_b \frac{n_b}{n} \left|\bar a_b - \bar c_b\right|,\quad
              \mathrm{ECE}_{l2} = \Big(\sum_b \frac{n_b}{n} (\bar a_b - \bar c_b)^2\Big)^{1/2},\quad
              \mathrm{MCE} = \max_b \left|\bar a_b - \bar c_b\right|

    where bin :math:`b` holds the rows whose confidence lies in
    :math:`[b/B, (b+1)/B)` (confidences of exactly 1 in a bin of their own), and
    :math:`\bar c_b`, :math:`\bar a_b` are the mean confidence and accuracy there. For
    ``(n, C)`` probabilities the confidence is the top probability and the accuracy whether
    the top class is ``y_true``; for ``(n,)`` probabilities of the positive class they are
    the probability and the 0/1 outcome (torchmetrics' binary form). Binned with
    comparisons, without data-dependent shapes, so it runs under ``jax.jit`` and on Dask.

    Parameters
    ----------
    y_true : array
        Class indices ``0 .. C - 1`` (``0``/``1`` for 1-D probabilities), shape ``(n,)``.
    y_prob : array
        Probabilities, ``(n, C)``, or ``(n,)`` for the positive class.
    n_bins : int, optional
        Number of bins (default 15, as torchmetrics).
    norm : {"l1", "l2", "max"}, optional
        Which calibration error (default ``"l1"``, the expected calibration error).

    Returns
    -------
    array
        A 0-d array in the probabilities' library, device and dtype.

    See Also
    --------
    torchmetrics.functional.classification.binary_calibration_error : the same value.
    torchmetrics.functional.classification.multiclass_calibration_error : the same value.
    ExpectedCalibrationError : the mergeable accumulator.

    Notes
    -----
    torchmetrics turns inputs outside [0, 1] into probabilities (sigmoid or softmax); this
    function expects probabilities and rejects other values. Bin edges are the correctly
    rounded :math:`b/B`; ``torch.linspace`` may round an edge the other way, which changes
    the bin only of a confidence exactly on that edge.

    Examples
    --------
    >>> import numpy as np
    >>> from xloss.metrics import expected_calibration_error
    >>> y = np.array([0, 1, 1, 0])
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
    >>> round(float(expected_calibration_error(y, p, n_bins=5)), 12)
    0.15
    """
    return ExpectedCalibrationError(n_bins=n_bins, norm=norm).update(y_true, y_prob).compute()
