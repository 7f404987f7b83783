"""The compact known-blob index offered to the packer (``backup.blobindex``)."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from smstudio_ext.backup.blobindex import BlobIndex


def keys(n, salt=b""):
    return [hashlib.sha256(salt + b"%d" % i).digest()[:16] for i in range(n)]


def test_behaves_like_the_dict_it_replaces():
    index, ref = BlobIndex(), {}
    ks = keys(20000)
    for i, k in enumerate(ks):
        value = (i % 7) << 96 | i << 64 | (i * 3) << 32 | i * 5
        index[k] = value
        ref[k] = value
    for i, k in enumerate(ks[::3]):  # overwrite some: no new entries
        index[k] = ref[k] = i
    assert len(index) == len(ref) == 20000
    for k, v in ref.items():
        assert index.get(k) == v and k in index and index[k] == v
    for k in keys(2000, salt=b"other"):
        assert index.get(k) is None and k not in index and index.get(k, -1) == -1
    with pytest.raises(KeyError):
        index[keys(1, salt=b"missing")[0]]
    assert dict(index.items()) == ref
    assert index.nbytes() < 20000 * 32 / 0.3  # ~32 B a slot, load above 0.3


def test_edge_keys_and_values():
    index = BlobIndex()
    zero, ones = bytes(16), b"\xff" * 16
    index[zero] = 0
    index[ones] = (1 << 128) - 1
    assert index.get(zero) == 0 and index.get(ones) == (1 << 128) - 1 and len(index) == 2
    index[zero] = 5
    assert index.get(zero) == 5 and len(index) == 2
    same_shard = [bytes([7]) + os.urandom(15) for _ in range(500)]  # one shard grows alone
    for i, k in enumerate(same_shard):
        index[k] = i
    assert [index.get(k) for k in same_shard] == list(range(500))
    for bad_key in (b"short", bytes(17)):
        with pytest.raises(ValueError):
            index[bad_key] = 1
        with pytest.raises(ValueError):
            index.get(bad_key)
    for bad_value in (-1, 1 << 128):
        with pytest.raises(ValueError):
            index[ones] = bad_value


def test_readers_never_see_a_torn_state_while_one_writer_grows_it():
    index = BlobIndex()
    ks = keys(30000)
    done = threading.Event()
    errors = []

    def read():
        seen = 0
        while not done.is_set() or seen == 0:
            for k in ks[:2000:7]:
                v = index.get(k)
                if v is not None and v != int.from_bytes(k[:4], "little"):
                    errors.append(k)
            seen += 1

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    for k in ks:
        index[k] = int.from_bytes(k[:4], "little")
    done.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors
    assert all(index.get(k) == int.from_bytes(k[:4], "little") for k in ks)
