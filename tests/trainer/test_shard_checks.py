"""trainer/shard_checks.py: the shards directory is exactly what the tokenizer wrote and verified.

The end-to-end refusals through `apr pretrain` (and their mutations) are falsifiers of contract
apr-shards-handoff-v1 in falsifiers/test_shards_handoff.py; these are the details.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safeio import DigestCache
from tests.trainer.conftest import toy_tokens, write_manifest, write_shards
from tokenizer.shards import repair_manifest
from trainer.shard_checks import HandoffError, check_shards

posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs and device files are POSIX")


def test_a_verified_directory_passes_and_reports_what_was_checked(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", [1000, 800])
    report = check_shards(root, 512, cache=DigestCache(tmp_path / "cache", settle_s=0))
    assert report.verified and not report.unverified_reasons and set(report.hashes) == {
        "shard-00000.bin", "shard-00001.bin"}
    assert report.max_token_id_source == "manifest.json verification.max_token_id_seen"
    assert report.summary()["shards"] == 2 and report.summary()["hashes_from_cache"] == 0
    again = check_shards(root, 512, cache=DigestCache(tmp_path / "cache", settle_s=0))
    assert again.hashes == report.hashes and again.cache_hits == 2  # hashed once, not every run


def test_the_cache_never_hides_a_change(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", [1000])
    check_shards(root, 512, cache=DigestCache(tmp_path / "cache", settle_s=0))
    path = root / "shard-00000.bin"
    data = bytearray(path.read_bytes())
    data[0:4] = (9).to_bytes(4, "little")
    time.sleep(0.05)  # past the filesystem's timestamp tick (settle_s=0 turns off the guard against this)
    path.write_bytes(bytes(data))  # same size; ctime moves
    with pytest.raises(HandoffError, match=r"sha256 .* differs from manifest\.json's"):
        check_shards(root, 512, cache=DigestCache(tmp_path / "cache", settle_s=0))


def test_repaired_and_incomplete_manifests_need_allow_unverified(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", [1000, 800])
    repair_manifest(root)
    with pytest.raises(HandoffError, match="rebuilt by repair-manifest"):
        check_shards(root, 512)
    report = check_shards(root, 512, allow_unverified=True)
    assert not report.verified and report.allow_unverified
    assert report.max_token_id_source == "scan of every shard"  # a repaired manifest records no maximum
    m = json.loads(write_manifest(root).read_text())
    m["complete"] = False
    (root / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(HandoffError, match="marks the encode incomplete"):
        check_shards(root, 512)
    m["complete"], m["verification"] = True, None
    (root / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(HandoffError, match="no verification record"):
        check_shards(root, 512)


def test_without_a_manifest_the_fix_is_named(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", [1000], manifest=False)
    with pytest.raises(HandoffError, match=r"no manifest\.json[\s\S]*repair-manifest DIR` to list the shards"):
        check_shards(root, 512)
    with pytest.raises(HandoffError, match="does not exist"):
        check_shards(tmp_path / "nope", 512)


def test_stray_shards_are_listed(tmp_path: Path) -> None:
    root = write_shards(tmp_path / "s", [1000])
    for i in range(1, 6):
        toy_tokens(100, seed=i).tofile(root / f"shard-{i:05d}.bin")
    with pytest.raises(HandoffError, match=r"5 shard file\(s\) not listed in manifest\.json: shard-00001\.bin, "
                                           r"shard-00002\.bin, shard-00003\.bin and 2 more"):
        check_shards(root, 512)


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_a_shard_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path: Path, kind: str) -> None:
    """Issue 16 item 3: a FIFO, or a symlink to /dev/zero, where a shard is expected made `pretrain`'s shard
    hashing hang or eat memory. Run in a child with a timeout, as a hang would otherwise hang the suite."""
    root = write_shards(tmp_path / "s", [1000, 800])
    target = root / "shard-00001.bin"
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "dev-zero":
        target.symlink_to("/dev/zero")
    else:
        target.mkdir()
    code = ("import sys; from trainer.shard_checks import HandoffError, check_shards\n"
            "try:\n    check_shards(sys.argv[1], 512)\nexcept HandoffError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "shard-00001.bin is " in proc.stdout and "move shard-00001.bin out of the shard directory" in proc.stdout
