"""MP4 sample entries that QuickTime and Safari accept.

libavformat writes H.265 as ``hev1`` unless told otherwise: parameter sets may then come
in-band only, and Apple's players refuse such files. ``hvc1`` promises them in the sample
entry (the ``hvcC`` box, which the muxer fills from the stream's extradata), which is what
cameras' SDPs give us anyway. Segments and exports both go through here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["tag_for_players"]

_TAGS = {"hevc": "hvc1"}


def tag_for_players(stream: Any) -> None:
    """Give an output stream the sample entry players expect (``hvc1`` for H.265)."""
    ctx = stream.codec_context
    tag = _TAGS.get(ctx.name)
    if tag is not None:
        ctx.codec_tag = tag
