"""Loss detection and recovery of the aiortc transport over a real link that is cut.

The room server runs in one network namespace, ``rtcstate join`` in another, joined by a veth
link (see :mod:`rtcstate.testing.netns`). Ten times: cut the link, note how long until the client
is ``reconnecting`` (target < 1 s); after one second restore it, note how long until it is
``connected`` again. Prints the median and the maximum of each. Needs root; says why not
otherwise. Run with `make bench`.
"""

from __future__ import annotations

import statistics
import sys
import time

from rtcstate.testing.netns import LineReader, VethLink, netns_unavailable

OUTAGES = 10
OUTAGE_SECONDS = 1.0
SECRET = "rtcstate-bench-secret-of-32-bytes"
PORT = 7881


def main() -> None:
    reason = netns_unavailable()
    if reason is not None:
        print(f"link benchmark skipped: {reason}")
        return
    detection, recovery = [], []
    with VethLink(tag=f"b{int(time.time()) % 10000}", subnet=7) as link:
        server = link.spawn("a", [sys.executable, "-m", "rtcstate", "serve", "--host",
                                  link.address("a"), "--port", str(PORT), "--secret", SECRET,
                                  "--heartbeat-timeout", "1"])
        server.expect(lambda line: line.startswith("listening on"), within=20)
        client: LineReader = link.spawn(
            "b", [sys.executable, "-m", "rtcstate", "join", f"ws://{link.address('a')}:{PORT}",
                  "--room", "bench", "--identity", "bot", "--secret", SECRET,
                  "--publish", "camera:video", "--json"])
        client.expect_change("room", "connected", within=20)
        for _ in range(OUTAGES):
            cut = time.monotonic()
            link.down()
            detection.append(
                client.expect_change("room", "reconnecting", within=10)["at"] - cut)
            time.sleep(OUTAGE_SECONDS)  # the outage itself
            restored = time.monotonic()
            link.up()
            recovery.append(
                client.expect_change("room", "connected", within=10)["at"] - restored)
            time.sleep(0.5)  # let the new peer connections settle before the next cut
    print(f"aiortc transport, {OUTAGES} link cuts of {OUTAGE_SECONDS:.0f} s on a veth link:")
    print(f"  loss detected (reconnecting) after   median {statistics.median(detection):.3f} s"
          f"   max {max(detection):.3f} s   (target < 1 s)")
    print(f"  recovered (reconnected) after restore median {statistics.median(recovery):.3f} s"
          f"   max {max(recovery):.3f} s")


if __name__ == "__main__":
    main()
