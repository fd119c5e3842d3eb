"""detente: verifiable assurances of non-interference between states.

Layers, inner to outer (see docs/architecture.md): ``tlog`` (the transparency log), ``statements``
(signed envelopes and keysets), ``accords`` (letters, exchanges, projections), ``monitor`` (interference
detection, independent of the rest), ``registry`` (the application service) and the shells (CLI, HTTP).
"""

__version__ = "0.1.0"
