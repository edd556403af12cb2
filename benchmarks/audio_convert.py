"""What keeping a G.711 camera's sound costs: G.711 packets -> AAC 8 kHz mono, as the ingest does.

Runs ``recorder.audio.AacConverter`` over SECONDS of 20 ms A-law packets (the simulator's
tone loop, the packets a camera sends) and prints the CPU time per second of sound and
what that is for a number of cameras on one core.

    python benchmarks/audio_convert.py [--seconds 600]

Caveats: one thread, no network and no muxing (the segment writer adds a mux per AAC
packet, about 8 a second); the CPU is the shared 2-core development VM, whose other
load shows in the figure; a real camera's sound (speech, noise) encodes much like a tone
at this bit rate, since AAC's cost is per frame, not per content.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import av

from cctvctl.recorder.audio import AacConverter
from cctvctl.sim.audio import encode_audio_loop


class _Stream:
    """What AacConverter reads of a demuxed G.711 stream."""

    def __init__(self) -> None:
        self.codec_context = av.CodecContext.create("pcm_alaw", "r")
        self.codec_context.sample_rate = 8000
        self.time_base = Fraction(1, 8000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="seconds of sound")
    seconds = parser.parse_args().seconds
    loop = encode_audio_loop("pcma", 20.0)
    converter = AacConverter(_Stream())
    packets = round(seconds / loop.packet_seconds)
    out = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for n in range(packets):
        pkt = av.Packet(loop.payloads[n % len(loop.payloads)])
        pkt.pts = n * loop.samples_per_packet
        pkt.time_base = Fraction(1, 8000)
        out += len(converter.convert(pkt))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    per_second = cpu / seconds
    print(f"{seconds:.0f} s of G.711 ({packets} packets) -> {out} AAC packets")
    print(f"CPU {cpu:.2f} s (wall {wall:.2f} s): {per_second * 1e3:.3f} ms per second of sound")
    print(f"one core converts about {1 / per_second:.0f} cameras' sound in real time")
    print(f"100 cameras with sound kept: {100 * per_second * 100:.1f} % of one core")


if __name__ == "__main__":
    main()
