"""The atlas on Ray: a local cluster of 2 CPUs started here, on the loopback only.

A Ray run gives the local run's shards bit for bit (one PyTorch thread per shard in both), and
a worker killed in the middle of a shard is replaced by Ray without losing the shard or writing
it twice.
"""

import ipaddress
import os
import signal
import threading
import time

import psutil
import pytest
from atlas_helpers import LAYERS, QUICK, assert_same_shards, lab_model, mnist_images

from actmax.atlas import build_atlas
from actmax.atlas.ray_runner import LOOPBACK_ENVIRONMENT
from actmax.atlas.store import ShardStore

TASK_TITLE = "ray::actmax-atlas-shard"  # a Ray worker's process title while it runs a shard


@pytest.fixture(scope="module")
def cluster():
    os.environ.update(LOOPBACK_ENVIRONMENT)  # before Ray is imported
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        num_cpus=2,
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        log_to_driver=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def quick(out, **options):
    options = {"layers": LAYERS, "settings": QUICK, "progress": False, "threads": 1, **options}
    return build_atlas(lab_model(), mnist_images(), out, **options)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("atlas-local") / "site"
    quick(out)
    return out


def test_a_ray_run_equals_the_local_run_bit_for_bit(cluster, local_run, tmp_path, monkeypatch):
    stored, put = [], cluster.put

    def counted_put(value, **options):
        stored.append(type(value).__name__)
        return put(value, **options)

    monkeypatch.setattr(cluster, "put", counted_put)
    summary = quick(tmp_path / "ray", ray="auto")
    # the model and the data go into the object store once; the merged scan once, for stage 2
    assert sorted(stored) == ["Extremes", "TorchAdapter", "ndarray"]
    assert summary.where == "a local Ray instance"
    assert summary.shards_run == len(list((local_run / "shards").glob("*.npz")))
    assert_same_shards(local_run, tmp_path / "ray")
    for page in ("units/l1/3.html", "units/l3/15.html", "units/l5/9.html", "layers/l3.html"):
        assert (tmp_path / "ray" / page).read_text() == (local_run / page).read_text(), page
    assert cluster.is_initialized()  # a cluster the caller started is left running


def test_a_killed_worker_is_retried_and_no_shard_is_lost_or_done_twice(
    cluster, local_run, tmp_path, monkeypatch
):
    writes: list[str] = []
    original = ShardStore.write

    def counted(self, shard, arrays):
        writes.append(shard.name)
        return original(self, shard, arrays)

    monkeypatch.setattr(ShardStore, "write", counted)
    killed: list[int] = []
    done = threading.Event()

    def kill_one_worker_mid_shard():
        me = psutil.Process()
        while not done.is_set() and not killed:
            for child in me.children(recursive=True):
                try:
                    if child.cmdline()[:1] == [TASK_TITLE]:
                        os.kill(child.pid, signal.SIGKILL)
                        killed.append(child.pid)
                        break
                except (psutil.NoSuchProcess, psutil.AccessDenied, IndexError):
                    continue
            time.sleep(0.005)

    killer = threading.Thread(target=kill_one_worker_mid_shard, daemon=True)
    killer.start()
    try:
        summary = quick(tmp_path / "ray", ray="auto")
    finally:
        done.set()
        killer.join()
    assert killed, "no worker was caught running a shard"
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == "zombie"
    assert sorted(writes) == sorted(set(writes)), "a shard was written twice"
    assert summary.shards_run == len(writes)
    assert_same_shards(local_run, tmp_path / "ray")


def test_every_ray_process_binds_to_the_loopback_and_sends_no_usage_statistics(cluster):
    from ray._common.usage.usage_lib import usage_stats_enabled

    assert not usage_stats_enabled()
    assert cluster.util.get_node_ip_address() == "127.0.0.1"
    listening = 0
    for process in psutil.Process().children(recursive=True):
        try:
            connections = process.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for connection in connections:
            assert _loopback(connection.laddr.ip), (process.name(), connection)
            if connection.raddr:
                assert _loopback(connection.raddr.ip), (process.name(), connection)
            listening += connection.status == psutil.CONN_LISTEN
    assert listening >= 3  # the GCS, the raylet and the object manager at least


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback
