"""The public web: server-rendered pages (Jinja2) and the static files they use, all served by the app.

Pages are readable without JavaScript; only the verify page runs script (``static/tlog.js`` and friends),
and it trusts nothing the server says.
"""
