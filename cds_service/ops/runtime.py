"""How a serving process settles once its app is built: collector settings measured for hook calls."""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 10_000


def settle_for_serving() -> None:
    """Freeze the start-up objects out of the collector and make young collections rarer."""
    # Everything built so far (models, schemas, the knowledge base) lives as long as the process:
    # move it out of the collector's generations, so that a full collection triggered by a large
    # request body walks only request objects (measured: p99 108 -> 48 ms at 100 medications).
    gc.collect()
    gc.freeze()
    # A hook call parses thousands of JSON objects that live until its answer: with the default
    # threshold (700) every call runs several young collections over them. Fewer, larger ones
    # (measured at the 42 kB shape: about 0.07 ms per call less); cyclic garbage only waits longer.
    gc.set_threshold(GEN0_THRESHOLD, *gc.get_threshold()[1:])
