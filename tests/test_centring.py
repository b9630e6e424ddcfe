"""Centred cosines: the closed form the pool uses equals the cosine of the shifted vectors,
and a centroid takes away what every text shares."""

from __future__ import annotations

import numpy as np

from app.ml.centring import centred_cosines, centred_query
from app.services.centroids import PRIOR_TEXTS, _shrunk


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def test_the_closed_form_is_the_cosine_of_the_shifted_vectors():
    rng = np.random.default_rng(1)
    rows = unit(rng.standard_normal((50, 16)))
    centroid = (0.4 * unit(rng.standard_normal(16))).astype(np.float32)
    vacancy_centroid = (0.3 * unit(rng.standard_normal(16))).astype(np.float32)
    vacancy = unit(rng.standard_normal(16))
    query = centred_query(vacancy, vacancy_centroid)
    got = centred_cosines(rows @ query, rows @ centroid, query, centroid)
    shifted = rows - centroid
    expected = (shifted @ (vacancy - vacancy_centroid)) / (
        np.linalg.norm(shifted, axis=1) * np.linalg.norm(vacancy - vacancy_centroid)
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # Without centroids it is the plain cosine.
    np.testing.assert_allclose(
        centred_cosines(rows @ vacancy, rows @ vacancy, vacancy, None), rows @ vacancy
    )
    assert centred_query(vacancy, None) is vacancy


def test_what_every_text_shares_stops_counting():
    """Texts that are mostly one shared part (a blurb) plus a little of their own: plain
    cosines are all high and barely apart; centred, the one sharing the specific part wins
    clearly."""
    rng = np.random.default_rng(2)
    shared = unit(rng.standard_normal(64))
    own = unit(rng.standard_normal((6, 64)))
    texts = unit(3 * shared + own)  # six vacancies, each blurb plus its own part
    centroid = texts.mean(axis=0).astype(np.float32)
    probe = unit(3 * shared + own[2])  # a CV about the third one, with the same blurb
    plain = texts @ probe
    query = centred_query(probe, centroid)
    centred = centred_cosines(texts @ query, texts @ centroid, query, centroid)
    assert int(np.argmax(centred)) == 2
    assert np.sort(centred)[-1] - np.sort(centred)[-2] > 5 * (
        np.sort(plain)[-1] - np.sort(plain)[-2]
    )


def test_a_centroid_of_few_texts_is_shrunk():
    vector = unit(np.ones(4))
    raw = b"\x00\x04\x00\x00" + vector.astype(">f4").tobytes()  # vector_send's layout
    one = _shrunk(raw, 1)
    assert one is not None
    np.testing.assert_allclose(one, vector / (1 + PRIOR_TEXTS), rtol=1e-6)
    many = _shrunk(raw, 10_000)
    assert many is not None
    assert np.linalg.norm(many) > 0.99
    assert _shrunk(None, 0) is None


def test_the_pool_keeps_its_centroid_as_rows_come_and_go():
    from app.ml.pool import CandidatePool
    from tests.test_pool import pool_row

    rng = np.random.default_rng(3)
    rows = [pool_row(str(i)) for i in range(20)]
    for row in rows:
        row.embedding = unit(rng.standard_normal(4))
    pool = CandidatePool(4)
    pool.apply(rows[:15], bulk=True)
    pool = pool.compacted()
    pool.apply(rows[15:], deleted=[rows[0].id, rows[1].id])
    replaced = pool_row("new text", xid=9, row_id=rows[2].id)
    replaced.embedding = unit(rng.standard_normal(4))
    pool.apply([replaced])
    live = [replaced.embedding] + [r.embedding for r in rows[3:]]
    expected = np.sum(live, axis=0) / (len(live) + PRIOR_TEXTS)
    np.testing.assert_allclose(pool.centroid(PRIOR_TEXTS), expected, rtol=1e-5, atol=1e-6)
    assert CandidatePool(4).centroid(PRIOR_TEXTS) is None
    np.testing.assert_allclose(
        pool.compacted().centroid(PRIOR_TEXTS), expected, rtol=1e-5, atol=1e-6
    )
