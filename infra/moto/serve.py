"""Runs moto's server on a loopback port for the integration tests.

Prints `PORT <n>` once the server answers, then serves until its standard input
closes: the Rust test harness holds the other end of that pipe, so moto stops
with the test process however that process ends (pass, fail, panic, kill).
"""

import sys
import urllib.request

from moto.server import ThreadedMotoServer


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    bound = server._server.server_port  # the real port when 0 was asked for
    urllib.request.urlopen(f"http://127.0.0.1:{bound}/moto-api/data.json", timeout=30).read()
    print(f"PORT {bound}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
