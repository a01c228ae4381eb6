"""The shipped sample manifest scenarios/batch.toml reads and validates (its scenarios and
districts exist, names are unique)."""

from __future__ import annotations

from pathlib import Path

from schoolmap.run.distributed import read_manifest

ROOT = Path(__file__).resolve().parents[1]


def test_sample_batch_manifest_validates():
    m = read_manifest(ROOT / "scenarios" / "batch.toml")
    assert [sc.name for sc in m.scenarios] == ["demo", "low-births", "birth-rebound"]
    assert [name for name, _ in m.districts] == ["demo"]
    assert len(m.tasks()) == 3 and all(Path(t.path).is_file() for t in m.tasks())
