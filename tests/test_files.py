import pytest

from synovis_lib.cache import cache_key, cache_path, cached
from synovis_lib.files import atomic_dir, atomic_write, read_json, write_json, write_metrics


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_write(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_dir_is_all_or_nothing(tmp_path):
    target = tmp_path / "data"
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("a")
        raise ValueError("bad row")
    assert not target.exists()
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("a")
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("b")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    with pytest.raises(FileExistsError), atomic_dir(target, overwrite=False):
        pass


def test_json_round_trip_with_numpy(tmp_path):
    import numpy as np

    path = write_json(
        tmp_path / "m.json", {"kappa": np.float64(0.5), "n": np.int64(3), "v": np.arange(2)}
    )
    assert read_json(path) == {"kappa": 0.5, "n": 3, "v": [0, 1]}
    out = write_metrics(tmp_path / "results", "04_stats", {"profile": "ci"})
    assert out.name == "04_stats.metrics.json" and read_json(out) == {"profile": "ci"}


def test_cache_builds_once_and_keys_ignore_order(tmp_path):
    assert cache_key({"a": 1, "b": 2}) == cache_key({"b": 2, "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})
    calls = []

    def build():
        calls.append(1)
        return "value"

    def save(value, path):
        write_json(path, value)

    for _ in range(2):
        assert cached("thing", {"seed": 0}, build, save, read_json, ".json") == "value"
    assert len(calls) == 1
    assert cache_path("thing", {"seed": 0}, ".json").is_file()


def test_atomic_outputs_get_the_modes_of_ordinary_files(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {})
        with atomic_dir(tmp_path / "out") as tmp:
            (tmp / "a.txt").write_text("a")
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755  # not mkdtemp's 0700


def test_atomic_dir_puts_the_old_folder_back_when_the_swap_fails(tmp_path, monkeypatch):
    """Where no atomic exchange exists (not Linux), the fallback's two renames undo."""
    import os

    from synovis_lib import files

    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    target = tmp_path / "data"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("a")
    real_replace = os.replace

    def replace(src, dst):
        if "synovis-tmp" in str(src):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="disk full"), atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("b")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_cache_entry_is_built_once_by_concurrent_processes(tmp_path):
    """Two processes asking for the same entry: one builds, the other waits and loads."""
    import os
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from synovis_lib.cache import cached\n"
        "from synovis_lib.files import read_json, write_json\n"
        "def build():\n"
        "    open(sys.argv[1], 'a').write('built\\n')\n"
        "    time.sleep(1.5)\n"
        "    return {'value': 42}\n"
        "save = lambda value, path: write_json(path, value)\n"
        "print(cached('thing', {'seed': 0}, build, save, read_json, '.json')['value'])\n"
    )
    log = tmp_path / "builds.txt"
    env = {**os.environ, "SYNOVIS_CACHE": str(tmp_path / "cache")}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(log)], env=env, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0].decode().strip() for p in procs]
    assert outputs == ["42", "42"]
    assert log.read_text().splitlines() == ["built"]
