"""The Pareto/NBD likelihood's quadrature picks a Gauss-Legendre rule per row: checked against an
independent evaluation (the closed form with its two 2F1 branches at 50 digits) over
histories far outside the CDNOW sample (heavy buyers, histories of years, recent and long-lapsed
last purchases, alpha and beta from 1e-3 to 1e4), and the blocks that group the rows by rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.predictive.maths.paretonbd import (
    MERGE_CELLS,
    RULE_SIZES,
    ParetoNbdParams,
    _blocks,
    paretonbd_gradient,
    paretonbd_log_likelihood,
    paretonbd_log_likelihood_terms,
    rule_sizes,
)
from tests.metrics.predictive.paretonbd_reference import closed_form_log_likelihood

PARAMS = [
    ParetoNbdParams(0.553, 10.578, 0.606, 11.669),  # CDNOW (alpha < beta)
    ParetoNbdParams(1.7, 0.05, 0.2, 300.0),  # alpha << beta: fast buyers, slow drop-out
    ParetoNbdParams(0.4, 2000.0, 3.0, 0.02),  # alpha >> beta: the integral's roles swap
    ParetoNbdParams(0.02, 0.002, 0.05, 0.004),  # tiny shapes and scales
    ParetoNbdParams(25.0, 4.0, 12.0, 9000.0),  # large shapes
]
# (x, t_x, T): a single early purchase among years, heavy buyers who stopped long ago or just
# now, a last purchase a moment before T or at T itself, and day-level ages up to eight years.
HISTORIES = [
    (0, 0.0, 3000.0), (1, 0.5, 2900.0), (3, 2.0, 2.01), (40, 100.0, 1500.0), (300, 5.0, 1000.0),
    (300, 999.0, 1000.0), (2000, 50.0, 3000.0), (2000, 2999.9, 3000.0), (12, 0.001, 700.0), (5, 700.0, 700.0),
]


@pytest.mark.parametrize("params", PARAMS)
def test_the_likelihood_matches_the_closed_form_far_beyond_the_sample(params: ParetoNbdParams) -> None:
    x, t_x, big_t = (np.array(column, dtype=float) for column in zip(*HISTORIES, strict=True))
    ours = paretonbd_log_likelihood_terms(params, x, t_x, big_t)
    expected = np.array([closed_form_log_likelihood(params, *history) for history in HISTORIES])
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("params", PARAMS)
def test_the_gradient_over_such_histories_is_the_likelihood_s_slope(params: ParetoNbdParams) -> None:
    x, t_x, big_t = (np.array(column, dtype=float) for column in zip(*HISTORIES, strict=True))
    values = np.array(params.as_tuple())
    numeric = []
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-6 * values[j]
        up = paretonbd_log_likelihood(ParetoNbdParams(*(values + step)), x, t_x, big_t)
        down = paretonbd_log_likelihood(ParetoNbdParams(*(values - step)), x, t_x, big_t)
        numeric.append((up - down) / (2 * step[j]))
    np.testing.assert_allclose(paretonbd_gradient(params, x, t_x, big_t), numeric, rtol=1e-5, atol=1e-6)


def test_every_row_is_in_one_block_with_at_least_the_nodes_its_rule_asks() -> None:
    rng = np.random.default_rng(7)
    for size in (1, 5, 300, 5000):
        half = rng.uniform(0.0, 12.0, size) * rng.choice([1e-3, 1.0], size)
        decay = rng.uniform(0.0, 3000.0, size) * rng.choice([1e-3, 1e-1, 1.0], size)
        index = rule_sizes(half, decay)
        order, blocks = _blocks(index)
        seen = np.concatenate([order[rows] for _, rows in blocks])
        assert sorted(seen.tolist()) == list(range(size))
        for nodes, rows in blocks:
            assert (RULE_SIZES[index[order[rows]]] <= nodes).all()
            assert nodes * (rows.stop - rows.start) <= max(nodes, 16_384)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(range(RULE_SIZES.size)), min_size=1, max_size=400))
def test_small_groups_join_the_next_rule_and_large_ones_keep_their_own(indexes: list[int]) -> None:
    index = np.array(indexes, dtype=np.uint8)
    order, blocks = _blocks(index)
    nodes_of_row = np.empty(index.size, dtype=int)
    for nodes, rows in blocks:
        nodes_of_row[order[rows]] = nodes
    assert (nodes_of_row >= RULE_SIZES[index]).all()
    # A row only ever moves up to a rule some other row needs, and the largest rule present stays.
    assert set(nodes_of_row.tolist()) <= set(RULE_SIZES[index].tolist())
    assert nodes_of_row.max() == RULE_SIZES[index].max()
    # A group big enough to pay for its own block keeps its rule.
    for size in set(RULE_SIZES[index].tolist()):
        rows = RULE_SIZES[index] == size
        larger = RULE_SIZES[index][RULE_SIZES[index] > size]
        if larger.size and rows.sum() * (larger.min() - size) >= MERGE_CELLS:
            assert (nodes_of_row[rows] == size).all()


def test_the_rule_grows_with_the_interval_and_the_decay() -> None:
    halves, decays = np.meshgrid([0.0, 0.5, 2.0, 8.0], [0.0, 1.0, 40.0, 1000.0])
    sizes = RULE_SIZES[rule_sizes(halves.ravel(), decays.ravel())].reshape(halves.shape)
    assert (np.diff(sizes, axis=0) >= 0).all() and (np.diff(sizes, axis=1) >= 0).all()
    assert sizes.min() == RULE_SIZES[0] and all(itertools.starmap(lambda a, b: a < b, [(sizes[0, 0], sizes[-1, -1])]))
