"""The log's read endpoints served alone by uvicorn, for the HTTP benchmark.

``python -m benchmarks.http_server DB VKEY PORT``
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from detente.http import problems
from detente.http.logapi import SharedLog, log_router
from detente.tlog.log import Log
from detente.tlog.note import parse_ed25519_vkey
from detente.tlog.storage.sqlite import SQLiteStore


def main() -> None:
    """Serve until killed."""
    db, vkey, port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    app = FastAPI()
    problems.install(app)
    app.include_router(log_router(SharedLog(Log.open(SQLiteStore.connect(db), parse_ed25519_vkey(vkey)))))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
