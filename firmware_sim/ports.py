"""The board's serial ports: one line protocol per host connection, the link faults on their bytes, routing of
replies (to the port a command came from) and broadcasts (banner, auto-report, errors) to all."""
from __future__ import annotations

from collections.abc import Callable

from firmware_sim.faults import FaultSchedule
from firmware_sim.flavours import MARLIN, Flavour
from firmware_sim.protocol import CommandQueue, DeviceProtocol


class Ports:
    """Host connections of one board, sharing its command queue."""

    def __init__(self, queue: CommandQueue, rx_buffer_size: int, advanced_ok: bool, faults: FaultSchedule,
                 record: Callable[..., None], flavour: Flavour = MARLIN) -> None:
        self.queue = queue
        self.flavour = flavour
        self.rx_buffer_size = rx_buffer_size
        self.advanced_ok = advanced_ok
        self.faults = faults
        self.record = record
        self.protocols: dict[int, DeviceProtocol] = {}
        self._next = 0
        self.lost_closed = 0

    def open(self, banner: bool = True) -> int:
        """Attach a host; it gets the `start` banner, as after a reset."""
        port = self._next
        self._next += 1
        proto = DeviceProtocol(self.queue, port, self.rx_buffer_size, self.advanced_ok,
                               line_numbers=self.flavour.line_numbers)
        proto.spurious_resend = self._spurious_resend
        self.protocols[port] = proto
        if banner:
            self.banner(proto)
        return port

    def close(self, port: int) -> None:
        """Detach a host; replies to it are dropped from now on."""
        proto = self.protocols.pop(port, None)
        if proto is not None:
            self.lost_closed += proto.bytes_lost

    def get(self, port: int) -> DeviceProtocol | None:
        """The protocol of a port, if still attached."""
        return self.protocols.get(port)

    def banner(self, proto: DeviceProtocol) -> None:
        """What the firmware prints after a reset (Klipper's host process prints nothing)."""
        if not self.flavour.sends_start:
            return
        proto.write_line("start")
        for line in self.flavour.banner:
            proto.write_line(line.format(rx=self.rx_buffer_size, bufsize=self.queue.size))

    def reset(self) -> None:
        """Board reset: line numbers from 0, receive buffers empty, banner on every port."""
        for proto in self.protocols.values():
            proto.data_to_send()
            proto.reset()
            self.banner(proto)

    def receive(self, port: int, data: bytes) -> list[str]:
        """Bytes arrive on a port's UART (after the corrupt_rx fault); return emergency commands seen."""
        proto = self.protocols.get(port)
        if proto is None:
            return []
        rx = self.faults.rx
        if rx.rate > 0:
            before = rx.count
            data = rx.apply(data)
            for _ in range(rx.count - before):
                self.record("corrupt_rx", port=port)
        return proto.receive_data(data)

    def pull_lines(self) -> None:
        """Let every port move complete lines from its RX ring into the command queue."""
        for proto in list(self.protocols.values()):
            if self.queue.free <= 0:
                return
            if proto.rx_pending:
                proto.process()

    def outgoing(self) -> list[tuple[int, bytes]]:
        """Bytes each port should transmit now (after the corrupt_tx fault)."""
        out = []
        tx = self.faults.tx
        for port, proto in self.protocols.items():
            data = proto.data_to_send()
            if data:
                if tx.rate > 0:
                    before = tx.count
                    data = tx.apply(data)
                    for _ in range(tx.count - before):
                        self.record("corrupt_tx", port=port)
                out.append((port, data))
        return out

    def broadcast(self, text: str) -> None:
        """A line for every port."""
        for proto in self.protocols.values():
            proto.write_line(text)

    def write(self, port: int, text: str) -> None:
        """A line for one port (dropped if it is gone)."""
        proto = self.protocols.get(port)
        if proto is not None:
            proto.write_line(text)

    @property
    def bytes_lost(self) -> int:
        """Received bytes lost to RX overruns, over all ports ever attached."""
        return self.lost_closed + sum(p.bytes_lost for p in self.protocols.values())

    def _spurious_resend(self, line: int) -> bool:
        """Protocol hook: refuse a good line with a Resend when the `resend` fault says so."""
        if self.faults.spurious_resend():
            self.record("resend", line=line)
            return True
        return False
