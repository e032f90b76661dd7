"""Content hashes, cache keys and atomic writes."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from replicate.io import store


def test_git_blob_sha1_matches_git(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"hello\x00world" * 100)
    if shutil.which("git"):
        want = subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True).stdout.strip()
        assert store.git_blob_sha1(f) == want



def test_content_keys_ignore_dict_order_and_follow_content():
    assert store.content_key({"a": 1, "b": [1, 2]}) == store.content_key({"b": [1, 2], "a": 1})
    assert store.content_key({"a": 1}) != store.content_key({"a": 2})
    assert store.content_key(np.int64(3)) == store.content_key(3) and len(store.content_key("x")) == 24


def test_array_hash_sees_shape_dtype_and_bytes():
    a = np.arange(6, dtype=np.float32)
    assert store.array_hash(a) == store.array_hash(a.copy())
    assert store.array_hash(a) != store.array_hash(a.reshape(2, 3))
    assert store.array_hash(a) != store.array_hash(a.astype(np.float64))


def test_file_sha256_is_the_content_hash(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("abc")
    assert store.file_sha256(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "t.json"
    store.write_json(target, {"b": 2, "a": 1})
    assert target.read_text() == '{\n  "a": 1,\n  "b": 2\n}\n'

    def boom(p):
        p.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        store.atomic_write(target, boom)
    assert '"a": 1' in target.read_text() and [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_npz_round_trip_and_unreadable_files_are_recomputed(tmp_path):
    store.save_npz(tmp_path / "a.npz", x=np.arange(3))
    assert store.load_npz(tmp_path / "a.npz")["x"].tolist() == [0, 1, 2]
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert store.load_npz(tmp_path / "bad.npz") is None and store.load_npz(tmp_path / "none.npz") is None


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "c"))
    assert store.cache_dir() == tmp_path / "c"


def test_written_files_follow_the_users_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        table = store.atomic_write(tmp_path / "t.csv", lambda p: p.write_text("a\n"))
        blob = store.write_json(tmp_path / "m.json", {"a": 1})
        arrays = store.save_npz(tmp_path / "z.npz", x=np.zeros(2))
        assert {stat.S_IMODE(p.stat().st_mode) for p in (table, blob, arrays)} == {0o644}
        os.umask(0o077)
        assert stat.S_IMODE(store.write_json(tmp_path / "private.json", {}).stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_the_lock_serialises_two_processes_and_leaves_no_file(tmp_path):
    import subprocess as sp
    import sys
    import time

    target = tmp_path / "shared.csv"
    code = ("import sys, time; from replicate.io import store\n"
            "with store.locked(sys.argv[1]):\n    print(time.time(), flush=True); time.sleep(0.5)\n")
    procs = [sp.Popen([sys.executable, "-c", code, str(target)], stdout=sp.PIPE, text=True) for _ in range(2)]
    starts = sorted(float(p.communicate()[0]) for p in procs)
    assert starts[1] - starts[0] >= 0.45 and list(tmp_path.iterdir()) == []
    time.sleep(0)


def test_code_hash_follows_the_imports_of_the_code_that_computes(tmp_path, monkeypatch, request):
    """A grid cell's key holds the clusterers' code: an edit there changes it, an edit of a page module does not."""
    import shutil
    from pathlib import Path

    import replicate
    from replicate.io import store

    copy = tmp_path / "replicate"
    shutil.copytree(Path(replicate.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(store, "_PACKAGE", copy)
    request.addfinalizer(store.code_hash.cache_clear)

    def fresh(*modules: str) -> str:
        store.code_hash.cache_clear()
        return store.code_hash(*modules)

    before = fresh("method.cells")
    with open(copy / "publish" / "figures.py", "a") as f:
        f.write("\n# a plotting edit\n")
    assert fresh("method.cells") == before
    with open(copy / "method" / "clustering.py", "a") as f:  # imported by cells.py, not named by the caller
        f.write("\n# an edit of the clusterers\n")
    assert fresh("method.cells") != before
    store.code_hash.cache_clear()  # no hash of the copy outlives this test
    import pytest

    with pytest.raises(ValueError, match="method.no_such_module"):
        store.code_hash("method.no_such_module")
