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
