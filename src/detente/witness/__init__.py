"""A C2SP tlog-witness: cosigns a log's checkpoints only when each is consistent with the last one seen.

``core`` decides (pure), ``state`` keeps the latest cosigned checkpoint per log durably and atomically,
``app`` is the HTTP shell (``POST /add-checkpoint``), ``client`` is what a log uses to ask for cosignatures.
"""
