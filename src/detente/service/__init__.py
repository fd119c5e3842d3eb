"""The registry service: composes the log, the registry, witnesses and the web into one application."""
