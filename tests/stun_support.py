"""STUN for the tests: RFC 5769's test vector and a real Binding responder on 127.0.0.1.

RFC 5769 section 2.2, "Sample IPv4 Response" (both STUN codecs' tests use it):
A Binding success response carrying SOFTWARE "test vector", XOR-MAPPED-ADDRESS
192.0.2.1:32853, MESSAGE-INTEGRITY (password ``RFC5769_PASSWORD``) and FINGERPRINT.
"""

import os
import socket
import struct
import threading

RFC5769_TID = bytes.fromhex("b7e7a701bc34d686fa87dfae")
RFC5769_IPV4_RESPONSE = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96"
)
RFC5769_PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"


class StunServer:
    """A real RFC 5389 Binding responder on 127.0.0.1 (or ``bind``:``port``, the VM rig's STUN
    server inside its namespace); ``mapped`` overrides the address it reports.

    Example: ``s = StunServer("8.8.4.4"); ...send to ("127.0.0.1", s.port)...; s.close()``
    (the reported address is only text inside the answer: no packet goes there).
    """

    def __init__(self, mapped: str | None = None, bind: str = "127.0.0.1", port: int = 0,
                 down_file: str | None = None, answer_first: int = 0) -> None:
        # While ``down_file`` exists no request is answered (the VM rig holds STUN back), except
        # the first ``answer_first`` requests (the bring-up's DNS wait asks once; LiveKit after it).
        self.down_file = down_file
        self.answer_first = answer_first
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((bind, port))
        self.port = self.sock.getsockname()[1]
        self.mapped = mapped
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(2048)
            except OSError:
                return
            if self.answer_first > 0:
                self.answer_first -= 1
            elif self.down_file and os.path.exists(self.down_file):
                continue
            magic, tid = struct.unpack("!I", data[4:8])[0], data[8:20]
            ip = struct.unpack("!I", socket.inet_aton(self.mapped or peer[0]))[0] ^ magic
            attr = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, peer[1] ^ (magic >> 16), ip)
            self.sock.sendto(struct.pack("!HHI", 0x0101, len(attr), magic) + tid + attr, peer)

    def close(self) -> None:
        self.sock.close()
