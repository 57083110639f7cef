import json

import pytest

from chestview.engine.errors import ChestviewError
from chestview.engine.shard import Shard, merge_parts, parse_shard, shard_from_env, write_part


def test_parse_shard_is_one_based_and_validated():
    assert parse_shard("1/4") == Shard(0, 4)
    assert parse_shard("4/4") == Shard(3, 4)
    for bad in ("0/4", "5/4", "x", "1/0", "2"):
        with pytest.raises(ChestviewError):
            parse_shard(bad)


def test_shards_cover_every_item_once():
    taken = sorted(i for k in range(3) for i in Shard(k, 3).take(10))
    assert taken == list(range(10))


def test_shard_from_torchrun_environment():
    assert shard_from_env({"RANK": "1", "WORLD_SIZE": "2"}) == Shard(1, 2)
    assert shard_from_env({"RANK": "0", "WORLD_SIZE": "1"}) is None
    assert shard_from_env({}) is None


def _doc(rows):
    return {"model": {"id": "m"}, "settings": {"boxes": "all"}, "results": [{"path": p} for p in rows]}


def test_merge_waits_for_every_part_then_restores_input_order(tmp_path):
    paths = [f"img{i}.png" for i in range(5)]
    a, b = Shard(0, 2), Shard(1, 2)
    write_part(tmp_path, b, "k", b.take(5), _doc([paths[i] for i in b.take(5)]))
    assert merge_parts(tmp_path, 2, "k") is None  # one part missing
    write_part(tmp_path, a, "other-run", a.take(5), _doc(["stale.png"] * 3))
    assert merge_parts(tmp_path, 2, "k") is None  # a part of another run does not count
    write_part(tmp_path, a, "k", a.take(5), _doc([paths[i] for i in a.take(5)]))
    merged = json.loads(merge_parts(tmp_path, 2, "k").read_text())
    assert [r["path"] for r in merged["results"]] == paths
    assert merged["settings"] == {"boxes": "all", "shards": 2} and "shard" not in merged
    assert not list(tmp_path.glob("results.part-*"))  # the parts are gone once merged
