"""Accords: the clause library, letters, the ASW fair exchange, declarations and the projection.

Pure: values in, values out. Clocks and randomness are passed in; nothing here reads a file or the
network. Modules:

- ``clauses``: the clause library (own modern wording, each with its source);
- ``letters``: terms, reciprocal letters, text and HTML rendering, the terms document and its hash;
- ``exchange``: the ASW state of one exchange and the protocol checks of each act;
- ``contract``: the offline verifier of "holds a contract", over a party's own messages;
- ``projection``: the state of everything, rebuilt by replaying log entries, and its queries.
"""
