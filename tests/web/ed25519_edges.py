"""Ed25519 signatures at the edges where WebCrypto and libsodium disagree, made with plain integer math.

libsodium (PyNaCl: how detente's Python verifies) refuses a public key or a signature's R of small
order, and a public key whose y is spelled as p or above; WebCrypto's Ed25519 (OpenSSL in Node.js,
BoringSSL in Chromium) accepts them. A key of small order "signs" any message:
:func:`forged_by_small_order` finds such signatures for every encoding of every point of small order,
and :func:`r_of_small_order` a signature by a real key whose R is the identity. No one can sign under the
other keys spelled as y + p (:func:`non_canonical_encodings`: their discrete logarithms are unknown), so
only a test that sets WebCrypto's verdict aside sees the browser refuse them. RFC 8032 section 5.1 gives
the curve; nothing here is fast or constant-time (tests only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from detente.statements.keys import SigningKey

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P
L = 2**252 + 27742317777372353535851937790883648493
SQRT_M1 = pow(2, (P - 1) // 4, P)
Point = tuple[int, int]
IDENTITY: Point = (0, 1)


def add(a: Point, b: Point) -> Point:
    """The sum of two points (affine twisted Edwards addition)."""
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return (x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P, (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P


def mul(n: int, point: Point) -> Point:
    """``n`` times ``point``."""
    out = IDENTITY
    while n:
        if n & 1:
            out = add(out, point)
        point, n = add(point, point), n >> 1
    return out


def decode(data: bytes) -> Point | None:
    """The point an encoding names, its y read modulo p as OpenSSL reads it (None: not on the curve)."""
    value = int.from_bytes(data, "little")
    y, sign = value % 2**255 % P, value >> 255
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = pow(u * pow(v, -1, P), (P + 3) // 8, P)
    for candidate in (x, x * SQRT_M1 % P):
        if (candidate * candidate * v - u) % P == 0:
            return (candidate if candidate & 1 == sign else -candidate % P), y
    return None


def encode(point: Point) -> bytes:
    """RFC 8032 encoding: y, and the sign of x in the top bit."""
    return (point[1] | (point[0] & 1) << 255).to_bytes(32, "little")


def on_curve(data: bytes) -> Point:
    """The point ``data`` encodes, which must be one."""
    point = decode(data)
    assert point is not None
    return point


B = on_curve((4 * pow(5, -1, P) % P).to_bytes(32, "little"))


def small_order_points() -> list[Point]:
    """The eight points of order dividing 8."""
    y = 2
    while True:
        point = decode(y.to_bytes(32, "little"))
        if point is not None and mul(4, torsion := mul(L, point)) != IDENTITY:
            return [mul(i, torsion) for i in range(8)]
        y += 1


def small_order_encodings() -> list[bytes]:
    """Every spelling of a point of small order: each point, with either top bit, and y + p where that
    fits in 255 bits."""
    found = set()
    for point in small_order_points():
        for y in (point[1], point[1] + P):
            for sign in (0, 1):
                if y < 2**255:
                    found.add((y | sign << 255).to_bytes(32, "little"))
    return sorted(found)


def non_canonical_encodings() -> list[bytes]:
    """Every spelling of a y of p or above (y + p for y below 19), with either top bit, that names a point
    on the curve not of small order (those of small order are among :func:`small_order_encodings`)."""
    found = []
    for y in range(P, 2**255):
        for sign in (0, 1):
            data = (y | sign << 255).to_bytes(32, "little")
            point = decode(data)
            if point is not None and mul(8, point) != IDENTITY:
                found.append(data)
    return found


def _challenge(r: bytes, key: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + key + message).digest(), "little") % L


def forged_by_small_order(key: bytes, message: bytes) -> bytes:
    """A signature of ``message`` that WebCrypto accepts under the small-order ``key``: R = sB for an s
    whose challenge k makes kA the identity, so sB = R + kA holds."""
    point = on_curve(key)
    r = B
    for s in range(1, 1000):
        rb = encode(r)
        if mul(_challenge(rb, key, message), point) == IDENTITY:
            return rb + s.to_bytes(32, "little")
        r = add(r, B)
    raise AssertionError("no challenge killed the point in 1000 tries")


def r_of_small_order(signer: SigningKey, message: bytes) -> bytes:
    """A signature by ``signer`` whose R is the identity: S = k a, so SB = kA = R + kA."""
    digest = hashlib.sha512(signer.seed).digest()
    a = int.from_bytes(digest[:32], "little") & (2**254 - 8) | 2**254
    r = encode(IDENTITY)
    return r + (_challenge(r, signer.public.raw, message) * a % L).to_bytes(32, "little")


def cases(signer: SigningKey, message: bytes) -> Iterator[tuple[str, bytes, bytes]]:
    """``(name, public key, signature)`` of ``message``: an honest signature, then the edge cases."""
    yield "honest", signer.public.raw, signer.sign(message)
    yield "R the identity", signer.public.raw, r_of_small_order(signer, message)
    for key in small_order_encodings():
        if decode(key) is not None:
            yield f"key {key.hex()}", key, forged_by_small_order(key, message)
    for key in non_canonical_encodings():
        yield f"key {key.hex()}, y spelled as y + p", key, signer.sign(message)
