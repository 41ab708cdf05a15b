#!/usr/bin/env python3
"""A tiny TCP forwarder on 127.0.0.1, to cut a server off from its database.

Usage: tcp_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT

Forwards every connection to TARGET until it gets SIGTERM or SIGINT; then it
closes the listener and every open connection at once and exits 0. Starting it
again on the same port restores the path. Only for tests on this machine: it
refuses to listen anywhere but 127.0.0.1.
"""

import asyncio
import signal
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(listen_port: int, host: str, port: int) -> None:
    writers: set[asyncio.StreamWriter] = set()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(host, port)
        except OSError:
            client_w.close()
            return
        writers.update((client_w, up_w))
        await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))
        writers.difference_update((client_w, up_w))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"proxy 127.0.0.1:{listen_port} -> {host}:{port}", flush=True)
    await stop.wait()
    server.close()
    for w in list(writers):
        # Abort, not close: the peer must see the connection die at once.
        transport = w.transport
        if transport is not None:
            transport.abort()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
