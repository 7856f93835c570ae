"""log_loss and perplexity over 10^7 rows on a real dask.distributed cluster.

The data never exist as one array: Dask generates each chunk on a worker from its own
seed, xloss builds the lazy graph (no ``.compute()`` inside xloss), the cluster reduces
it, and the result matches a NumPy/scikit-learn/torch reference computed chunk by chunk
on the same data here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import xloss

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

N_ROWS = 10_000_000
N_CLASSES = 6
CHUNK = 1_000_000


def _data():
    rng = da.random.default_rng(20_240_601)
    logits = rng.normal(size=(N_ROWS, N_CLASSES), chunks=(CHUNK, N_CLASSES)) * 2.0
    labels = rng.integers(0, N_CLASSES, size=N_ROWS, chunks=CHUNK)
    return logits, labels


def _reference(logits, labels) -> tuple[float, float]:
    """Mean log-loss (scikit-learn) and perplexity (torch), summed chunk by chunk."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    scipy_special = pytest.importorskip("scipy.special")
    torch = pytest.importorskip("torch")
    log_loss_sum = 0.0
    nll_sum = 0.0
    for i in range(logits.numblocks[0]):
        x = np.asarray(logits.blocks[i].compute(scheduler="sync"))
        y = np.asarray(labels.blocks[i].compute(scheduler="sync"))
        p = scipy_special.softmax(x, axis=1)
        log_loss_sum += sklearn_metrics.log_loss(
            y, p, normalize=False, labels=list(range(N_CLASSES))
        )
        nll_sum += float(
            torch.nn.functional.cross_entropy(
                torch.from_numpy(x), torch.from_numpy(y), reduction="sum"
            )
        )
    return log_loss_sum / N_ROWS, math.exp(nll_sum / N_ROWS)


@pytest.mark.slow
def test_log_loss_and_perplexity_on_a_local_cluster() -> None:
    import dask

    logits, labels = _data()
    probabilities = xloss.special.softmax(logits, axis=-1)

    def forbid(*args, **kwargs):
        raise AssertionError("xloss computed a Dask graph: results must stay lazy")

    # Building the graph must not compute anything.
    with dask.config.set(scheduler=forbid):
        lazy_log_loss = xloss.metrics.log_loss(labels, probabilities)
        lazy_perplexity = xloss.metrics.perplexity(logits, labels, axis=-1)
    assert type(lazy_log_loss).__module__.startswith("dask")
    assert type(lazy_perplexity).__module__.startswith("dask")

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got_log_loss, got_perplexity = client.gather(
            client.compute([lazy_log_loss, lazy_perplexity])
        )
        workers = len(client.scheduler_info()["workers"])
    assert workers == 2

    expected_log_loss, expected_perplexity = _reference(logits, labels)
    np.testing.assert_allclose(float(got_log_loss), expected_log_loss, rtol=1e-10)
    np.testing.assert_allclose(float(got_perplexity), expected_perplexity, rtol=1e-10)
