"""Known probe paths: what scanners ask for on sites that do not have it.

A request is a *probe* when its path (query string removed, case ignored) matches :data:`PROBE_REGEX`,
as written, in its normal form, or with its escapes decoded (:func:`.aggregate.is_probe`: ``..%2f`` is
the traversal ``../``), so the patterns are written for decoded paths.
The list is deliberately about files and admin consoles that a state website does not serve publicly;
a site that really serves one of them can allowlist its own monitoring. Annotated samples with the
expected verdict of each path are in ``tests/monitor/samples/probes.txt``.
"""

from __future__ import annotations

PROBE_PATTERNS: tuple[str, ...] = (
    r"/\.env(\.\w+)?$",
    r"/\.git(/|$)",
    r"/\.svn(/|$)",
    r"/\.hg(/|$)",
    r"/\.ds_store$",
    r"/\.aws/credentials$",
    r"/\.htaccess$",
    r"/\.htpasswd$",
    r"/wp-(login|config|admin)",
    r"/xmlrpc\.php$",
    r"/phpmyadmin",
    r"/pma/",
    r"/adminer(\.php)?$",
    r"/phpinfo\.php$",
    r"/server-status$",
    r"/actuator(/|$)",
    r"/cgi-bin/",
    r"/vendor/phpunit/",
    r"/boaform/",
    r"/hnap1/?$",
    r"/owa/auth",
    r"/autodiscover/autodiscover\.xml$",
    r"/solr/admin",
    r"/manager/html$",
    r"/console/login",
    r"/config\.(json|php|yml|yaml)$",
    r"/(backup|db|dump|database)\.(sql|zip|tar\.gz|gz)$",
    r"/etc/passwd",
    r"\.\./",
    r"/shell\.php$",
    r"/eval-stdin\.php$",
)

PROBE_REGEX = "(?i)(" + "|".join(PROBE_PATTERNS) + ")"
