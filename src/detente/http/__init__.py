"""The HTTP edge: RFC 9457 problem details, request limits, and the log's C2SP and proof endpoints."""
