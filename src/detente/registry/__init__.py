"""The registry: the application service over the log, and the notary of the fair exchange.

Modules:

- ``entry``: log entries ``{"envelope", "received"}`` and content-addressed blobs;
- ``core``: :class:`Registry`: submit (every decision inside the single writer, in sequence order),
  notary decisions, lapse at the deadline, replay of the projection;
- ``precheck``: the stateless checks of submissions (payload, schema, signatures), run ahead of the
  writer on an executor the shell owns; they decide nothing;
- ``bundle``: evidence bundles and the offline verifier :func:`verify_bundle`;
- ``home``: the registry's folder (log, notary key, blobs);
- ``example``: the example record (1933, 2017, June 2018, a declaration, a protest and a reply);
- ``incidents``: the monitor's incident JSON into ``incident`` statements;
- ``cli``: the ``detente`` sub-commands for each act.
"""

from detente.registry.bundle import BundleResult, build_bundle, verify_bundle
from detente.registry.core import Registry, Request
from detente.registry.entry import LogEntry

__all__ = ["BundleResult", "LogEntry", "Registry", "Request", "build_bundle", "verify_bundle"]
