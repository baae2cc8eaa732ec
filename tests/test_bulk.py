"""pars_portal.lib.bulk.rare_collections: the collector runs rarely inside, and the
process's own setting comes back afterwards, however bodies nest or overlap in threads."""

import gc
import threading

import pytest

from pars_portal.lib.bulk import BULK_GC_THRESHOLD, rare_collections


def test_thresholds_are_restored_after_nested_and_overlapping_bodies():
    before = gc.get_threshold()
    inside, release = threading.Barrier(3), threading.Event()

    def body():
        with rare_collections():
            inside.wait(5)
            release.wait(5)

    threads = [threading.Thread(target=body) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(5)
    with rare_collections():
        assert gc.get_threshold() == BULK_GC_THRESHOLD
    assert gc.get_threshold() == BULK_GC_THRESHOLD  # the threads are still inside
    release.set()
    for thread in threads:
        thread.join(5)
    assert gc.get_threshold() == before


def test_thresholds_are_restored_when_the_body_fails():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), rare_collections():
        raise RuntimeError("the upload's check failed")
    assert gc.get_threshold() == before


def test_compact_int_set_answers_as_a_set_does_across_folds():
    """Adds, repeats and discards, in and out of the folded part: the same answers as a
    plain set at every step, whatever was folded when."""
    import random

    from pars_portal.lib.bulk import CompactIntSet

    rng = random.Random(7)
    compact, plain = CompactIntSet(fresh_limit=50), set()
    pool = [rng.randrange(-(2**63), 2**63) for _ in range(400)] + [0, -1, 2**63 - 1, -(2**63)]
    for step in range(5000):
        value = rng.choice(pool)
        if rng.random() < 0.7:
            compact.add(value)
            plain.add(value)
        else:
            compact.discard(value)
            plain.discard(value)
        if step % 7 == 0:
            probe = rng.choice(pool)
            assert (probe in compact) == (probe in plain), step
    assert [v for v in pool if v in compact] == [v for v in pool if v in plain]
    assert len(compact._folded) > 50  # folds happened, so the array was exercised
    assert len(set(compact._folded)) == len(compact._folded)  # no member twice


def test_compact_int_set_is_smaller_than_a_set_at_a_million():
    import sys

    from pars_portal.lib.bulk import CompactIntSet

    compact = CompactIntSet()
    compact.update(hash(("key", i)) for i in range(1_000_000))
    assert hash(("key", 999_999)) in compact and hash(("key", 1_000_000)) not in compact
    size = sys.getsizeof(compact._folded) + sys.getsizeof(compact._fresh)
    size += sum(sys.getsizeof(v) for v in compact._fresh)
    assert size < 20 * 1024 * 1024  # a plain set of a million hashes: about 60 MB
