"""The spool file itself: durable lines, shared by threads and processes, torn lines set aside."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from decimal import Decimal
from pathlib import Path

from costroute.spend import SpooledLedger, SQLiteLedger
from costroute.spend._export import record_from_dict, record_to_dict
from costroute.spend._spool import Spool

from .conftest import make_record, wait_until_ready, write_locked


def test_a_record_survives_the_round_trip_through_a_line() -> None:
    rec = make_record(
        1, cost_usd=Decimal("0.000123"), input_per_mtok=Decimal("0.15"), difficulty=0.5,
        tags={"user": "a\nb"}, prompt_text="p", answer_text="a", role="judge", step=3,
        parent_request_id="req-0", service_tier="priority", batch_id="b",
    )
    assert record_from_dict(record_to_dict(rec)) == rec
    assert record_from_dict({**record_to_dict(rec), "from_a_later_version": 1}) == rec


def test_the_spool_is_private_and_created_only_when_needed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "new" / "ledger.spool")
    assert spool.read() == [] and spool.size() == 0 and not spool.path.exists()
    spool.add([make_record(1)])
    assert spool.path.stat().st_mode & 0o777 == 0o600
    assert spool.path.parent.stat().st_mode & 0o777 == 0o700
    assert [r.request_id for r in spool.read()] == ["req-1"]


def test_a_torn_line_is_set_aside_not_replayed_nor_lost(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "ledger.spool")
    spool.add([make_record(1)])
    with spool.path.open("ab") as f:
        f.write(b'{"request_id": "req-torn", "att')  # a writer killed mid-line
    spool.add([make_record(2)])  # starts on a fresh line
    assert [r.request_id for r in spool.read()] == ["req-1", "req-2"]
    with spool.draining() as records:
        assert [r.request_id for r in records] == ["req-1", "req-2"]
    assert spool.size() == 0
    assert Path(f"{spool.path}.rejected").read_bytes() == b'{"request_id": "req-torn", "att\n'


CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from costroute.spend._spool import Spool
    from tests.spend.conftest import make_record

    spool = Spool(sys.argv[1])
    base = int(sys.argv[2])
    for i in range(40):
        spool.add([make_record(base + i, prompt_text="x" * 5000)])
    """
)


def test_threads_and_processes_share_one_spool(tmp_path: Path) -> None:
    path = tmp_path / "ledger.spool"
    root = str(Path(__file__).resolve().parents[2])
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(10_000 * (p + 1)), root])
        for p in range(3)
    ]
    spool = Spool(path)

    def work(t: int) -> None:
        for i in range(40):
            spool.add([make_record(t * 100 + i), make_record(t * 100 + i, attempt=1)])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for child in children:
        assert child.wait(60) == 0
    records = spool.read()
    assert len(records) == 3 * 40 + 4 * 40 * 2  # every line whole: none torn, none interleaved
    assert len({(r.request_id, r.attempt) for r in records}) == len(records)


REPLAYER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from costroute.spend import SpooledLedger, SQLiteLedger
    from tests.spend.conftest import wait_until_ready

    ledger = SpooledLedger(SQLiteLedger(sys.argv[1], timeout_s=2), sys.argv[2])
    wait_until_ready(ledger)
    ledger.close()
    """
)


def test_replays_racing_in_several_processes_book_each_record_once(tmp_path: Path) -> None:
    db, spool_path = tmp_path / "ledger.sqlite3", tmp_path / "ledger.sqlite3.spool"
    ledger = SpooledLedger(SQLiteLedger(db, timeout_s=0.3), spool_path)
    with write_locked(db):
        ledger.append_many([make_record(i) for i in range(200)])
    assert len(ledger.spooled()) == 200
    root = str(Path(__file__).resolve().parents[2])
    children = [
        subprocess.Popen([sys.executable, "-c", REPLAYER, str(db), str(spool_path), root])
        for _ in range(3)
    ]
    wait_until_ready(ledger)
    for child in children:
        assert child.wait(60) == 0
    assert ledger.spooled() == []
    assert sorted(r.request_id for r in ledger.inner.records()) == sorted(f"req-{i}" for i in range(200))
    ledger.close()
    assert isinstance(ledger.inner, SQLiteLedger)
