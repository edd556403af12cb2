"""A camera's sound: described always, stored only when the inventory says ``audio = "keep"``.

The default is to drop it: the network is for public order, not for listening to people,
and recording sound in public places is a legal question for the operator. Either way the
camera's detail says what its audio is and what is done with it (:class:`AudioPlan`), so
nothing disappears without a word.

Kept sound goes into the segments as AAC, the one audio codec MP4 players agree on:
AAC from the camera is copied as it comes; G.711 (A-law or µ-law, 8 kHz mono), which
MP4 muxers refuse, is decoded and encoded to AAC at 8 kHz mono (:class:`AacConverter`:
about 4 ms of CPU per second of sound, some 0.4 % of a core per camera, measured by
``benchmarks/audio_convert.py``). Any other codec is reported and dropped.
"""

from __future__ import annotations

import fractions
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["AacConverter", "AudioOutput", "AudioPlan", "describe_audio", "plan_audio"]

G711: Final = {"pcm_alaw": "G.711 A-law", "pcm_mulaw": "G.711 µ-law"}
_NAMES: Final = {**G711, "aac": "AAC"}
CONVERTED_RATE: Final = 8000
CONVERTED_BITRATE: Final = 24_000


@dataclass(frozen=True, slots=True)
class AudioPlan:
    """What the camera sends and what the recorder does with it."""

    codec: str | None  # libav's name of the camera's audio codec; None: no audio track
    description: str | None  # e.g. "G.711 A-law 8000 Hz mono"
    handling: str  # none | dropped | kept | converted | unsupported
    detail: str  # one line for people

    @property
    def stored(self) -> bool:
        return self.handling in ("kept", "converted")


def describe_audio(codec: str, rate: int | None, channels: int | None) -> str:
    name = _NAMES.get(codec, codec)
    parts = [name]
    if rate:
        parts.append(f"{rate} Hz")
    if channels:
        parts.append("mono" if channels == 1 else f"{channels} channels")
    return " ".join(parts)


def plan_audio(stream: Any | None, choice: str) -> AudioPlan:
    """The plan for a camera's first audio stream (None: it has none) under ``choice``."""
    if stream is None:
        return AudioPlan(None, None, "none", "no audio track")
    ctx = stream.codec_context
    codec = str(ctx.name)
    what = describe_audio(codec, ctx.sample_rate, ctx.channels)
    if choice != "keep":
        return AudioPlan(codec, what, "dropped", f"{what}: dropped (audio = drop)")
    if codec == "aac" and ctx.extradata:
        return AudioPlan(codec, what, "kept", f"{what}: kept as sent")
    if codec == "aac":
        # Without its AudioSpecificConfig (the SDP's config=) an MP4 cannot describe it.
        return AudioPlan(
            codec, what, "unsupported", f"{what}: dropped, the SDP gives no AAC config"
        )
    if codec in G711:
        return AudioPlan(
            codec, what, "converted", f"{what}: kept, converted to AAC {CONVERTED_RATE} Hz mono"
        )
    return AudioPlan(
        codec, what, "unsupported", f"{what}: dropped, cannot be stored (accepted: AAC, G.711)"
    )


class AacConverter:
    """G.711 packets in, AAC packets out (8 kHz mono), timed in the input's time base.

    One per connection: the encoder's state runs across segment boundaries, so a segment
    roll costs no priming gap. Output packets carry ``pts`` in ``1/8000`` s counted on the
    camera's audio clock, so the segment writer places them as it places copied audio.
    """

    def __init__(self, stream: Any) -> None:
        import av

        self._decoder: Any = av.CodecContext.create(stream.codec_context.name, "r")
        self._decoder.sample_rate = stream.codec_context.sample_rate or CONVERTED_RATE
        self._decoder.layout = "mono"
        self._encoder: Any = av.CodecContext.create("aac", "w")
        self._encoder.sample_rate = CONVERTED_RATE
        self._encoder.layout = "mono"
        self._encoder.format = "fltp"
        self._encoder.bit_rate = CONVERTED_BITRATE
        self._encoder.time_base = fractions.Fraction(1, CONVERTED_RATE)
        self._encoder.open()
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=CONVERTED_RATE)
        self._fifo = av.AudioFifo()
        self._frame_size = int(self._encoder.frame_size or 1024)
        self._in_tb = stream.time_base
        self._next: int | None = None  # output sample count where the next frame starts
        self.time_base = fractions.Fraction(1, CONVERTED_RATE)
        self.errors = 0

    def convert(self, packet: Any) -> list[Any]:
        """AAC packets made possible by this G.711 packet (often none, sometimes one).

        A packet libav cannot decode or encode is dropped and counted (``errors``): a
        camera's bad sound must never cost its video.
        """
        import av

        try:
            return self._convert(packet)
        except av.FFmpegError:
            self.errors += 1
            return []

    def _convert(self, packet: Any) -> list[Any]:
        if self._next is None:
            if packet.pts is None:
                return []
            self._next = round(packet.pts * self._in_tb * CONVERTED_RATE)
        out: list[Any] = []
        for frame in self._decoder.decode(packet):
            for resampled in self._resampler.resample(frame):
                resampled.pts = None
                self._fifo.write(resampled)
        while self._fifo.samples >= self._frame_size:
            frame = self._fifo.read(self._frame_size)
            if frame is None:
                break
            frame.pts = self._next
            frame.time_base = self.time_base
            self._next += self._frame_size
            for encoded in self._encoder.encode(frame):
                encoded.time_base = self.time_base
                out.append(encoded)
        return out


class AudioOutput:
    """How each segment gets its audio track: a copy of the camera's, or AAC made here."""

    def __init__(self, stream: Any, converted: bool) -> None:
        self._template = stream
        self.converted = converted
        self.time_base = (
            fractions.Fraction(1, CONVERTED_RATE)
            if converted
            else fractions.Fraction(stream.time_base)
        )

    def add_to(self, container: Any) -> Any:
        if not self.converted:
            return container.add_stream_from_template(self._template, opaque=True)
        out = container.add_stream("aac", rate=CONVERTED_RATE, layout="mono")
        out.codec_context.bit_rate = CONVERTED_BITRATE
        return out
