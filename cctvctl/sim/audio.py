"""A simulated camera's sound: a short tone loop encoded once, as cameras send it over RTP.

Cameras of the market send G.711 (PCMA or PCMU, 8 kHz mono, static payload types 8 and 0,
RFC 3551) or AAC (``mpeg4-generic`` in AAC-hbr mode, RFC 3640). The loop is a beep per
second over a low hum, so a listener (and a test) can tell sound from silence. Encoding a
loop costs milliseconds, so it is not cached: it changes no video byte either.

Audio runs on its own clock from the same epoch as the video: packet ``n`` is due at
``epoch + n * packet_seconds`` and carries RTP time ``n * samples``, continuous across
passes of the loop whatever the loop's length in packets.
"""

from __future__ import annotations

import fractions
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AUDIO_CODECS", "AudioLoop", "encode_audio_loop"]

AUDIO_CODECS = ("pcma", "pcmu", "aac")
_G711 = {"pcma": ("pcm_alaw", 8, "PCMA"), "pcmu": ("pcm_mulaw", 0, "PCMU")}
G711_RATE = 8000
G711_SAMPLES = 160  # 20 ms per packet, what cameras send
AAC_RATE = 16000
AAC_SAMPLES = 1024  # one access unit
AAC_PAYLOAD_TYPE = 97


@dataclass(frozen=True)
class AudioLoop:
    """RTP payloads of a camera's sound loop, and how the SDP describes them."""

    codec: str  # pcma | pcmu | aac
    payload_type: int
    clock_rate: int
    samples_per_packet: int
    payloads: tuple[bytes, ...]
    rtpmap: str  # e.g. "PCMA/8000"
    fmtp: str | None = None

    @property
    def packet_seconds(self) -> float:
        return self.samples_per_packet / self.clock_rate


def _tone(rate: int, seconds: float) -> np.ndarray[Any, np.dtype[np.float32]]:
    n = max(1, round(rate * seconds))
    t = np.arange(n, dtype=np.float64) / rate
    hum = 0.05 * np.sin(2 * np.pi * 120 * t)
    beep = 0.4 * np.sin(2 * np.pi * 1000 * t) * ((t % 1.0) < 0.1)
    return (hum + beep).astype(np.float32)


def _encode(codec: str, fmt: str, rate: int, samples: np.ndarray[Any, Any], chunk: int) -> Any:
    import av

    ctx: Any = av.CodecContext.create(codec, "w")
    ctx.sample_rate = rate
    ctx.layout = "mono"
    ctx.format = fmt
    ctx.time_base = fractions.Fraction(1, rate)
    if codec == "aac":
        ctx.bit_rate = 32_000
    ctx.open()
    packets: list[bytes] = []
    for start in range(0, len(samples) - chunk + 1, chunk):
        block = samples[start : start + chunk]
        data = (block * 32767).astype(np.int16) if fmt == "s16" else block
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        packets.extend(bytes(p) for p in ctx.encode(frame))
    packets.extend(bytes(p) for p in ctx.encode(None))
    return packets, bytes(ctx.extradata or b"")


def _au_header(au: bytes) -> bytes:
    # AU-headers-length 16 bits, then one AU-header: 13-bit size, 3-bit index 0.
    return (16).to_bytes(2, "big") + (len(au) << 3).to_bytes(2, "big") + au


def encode_audio_loop(codec: str, seconds: float) -> AudioLoop:
    """The sound loop of ``codec`` (one of :data:`AUDIO_CODECS`), about ``seconds`` long."""
    if codec in _G711:
        name, pt, encoding = _G711[codec]
        chunk = G711_SAMPLES
        pcm = _tone(G711_RATE, round(seconds * G711_RATE / chunk) * chunk / G711_RATE)
        packets, _ = _encode(name, "s16", G711_RATE, pcm, chunk)
        return AudioLoop(codec, pt, G711_RATE, chunk, tuple(packets), f"{encoding}/{G711_RATE}")
    if codec == "aac":
        pcm = _tone(AAC_RATE, seconds)
        aus, config = _encode("aac", "fltp", AAC_RATE, pcm, AAC_SAMPLES)
        fmtp = (
            "streamtype=5;profile-level-id=15;mode=AAC-hbr;sizelength=13;indexlength=3;"
            f"indexdeltalength=3;config={config.hex()}"
        )
        return AudioLoop(
            codec,
            AAC_PAYLOAD_TYPE,
            AAC_RATE,
            AAC_SAMPLES,
            tuple(_au_header(au) for au in aus),
            f"mpeg4-generic/{AAC_RATE}/1",
            fmtp,
        )
    raise ValueError(f"unknown audio codec {codec!r}; accepted: none, {', '.join(AUDIO_CODECS)}")
