// detente: offline verification of the transparency log in the browser (and in Node.js 20+).
// C2SP signed notes (Ed25519), checkpoints, RFC 9162 inclusion and consistency proofs, tlog-proof@v1.
// Only WebCrypto (SHA-256, Ed25519) is used: no trust in any server, nothing loaded from outside.
// Every function throws an Error whose message says what is wrong; nothing returns a bare false.

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();
const MAX_SIGNATURES = 100; // as detente.tlog.note and Go's note.Open

export function b64decode(text, what) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error(`${what} is not valid base64`);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (b64encode(out) !== text) throw new Error(`${what} is not canonical base64`);
  return out;
}

export function b64encode(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

export const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// --- signed notes -------------------------------------------------------------------------------

function validName(name) {
  return name.length > 0 && !name.includes("+") && !/\s/.test(name);
}

export async function keyId(name, alg, publicKey) {
  const digest = await sha256(concat(enc.encode(name + "\n"), Uint8Array.of(alg), publicKey));
  return ((digest[0] << 24) | (digest[1] << 16) | (digest[2] << 8) | digest[3]) >>> 0;
}

// Parse "<name>+<hex id>+<base64(alg || key)>" and check that the id matches.
export async function parseVkey(vkey) {
  const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
  if (first < 0 || second < 0) throw new Error("a verifier key is <name>+<hex id>+<base64>");
  const name = vkey.slice(0, first), idHex = vkey.slice(first + 1, second);
  const raw = b64decode(vkey.slice(second + 1).trim(), "verifier key");
  if (!validName(name) || raw.length !== 33 || !/^[0-9a-f]{8}$/.test(idHex)) throw new Error(`verifier key for ${name} is malformed`);
  const id = await keyId(name, raw[0], raw.slice(1));
  if (id !== parseInt(idHex, 16)) throw new Error(`verifier key for ${name} has the wrong key id`);
  return { name, id, alg: raw[0], publicKey: raw.slice(1) };
}

// The encodings of the eight points of small order, the sign bit aside (y = 0 and 1 also as y + p), as
// libsodium lists them (ge25519_has_small_order). libsodium, which detente's Python verifies with, refuses a
// key or a signature's R among them; WebCrypto accepts them, and a key of small order "signs" anything.
const SMALL_ORDER = new Set([
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
]);

function ofSmallOrder(point) {
  const masked = Uint8Array.from(point);
  masked[31] &= 0x7f;
  return SMALL_ORDER.has(Array.from(masked, (b) => b.toString(16).padStart(2, "0")).join(""));
}

// libsodium also refuses a key whose y is spelled as p or above (ge25519_is_canonical: the sign bit aside, y is
// 2^255 - 19 to 2^255 - 1); WebCrypto reads such a y modulo p. libsodium asks this of the key only, not of R,
// and so does this page: for R, both compare its bytes with the canonical encoding of the point they compute,
// so a non-canonical R never verifies.
function canonicalKey(point) {
  if ((point[31] & 0x7f) !== 0x7f || point[0] < 0xed) return true;
  return point.subarray(1, 31).some((b) => b !== 0xff);
}

export async function ed25519Verify(publicKey, signature, message) {
  if (!canonicalKey(publicKey) || ofSmallOrder(publicKey) || ofSmallOrder(signature.subarray(0, 32))) return false;
  const key = await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return subtle.verify({ name: "Ed25519" }, key, signature, message);
}

// Split a signed note; verify the signatures by known keys. Returns {text, verified: [names]}.
export async function openNote(note, vkeys) {
  if (/[\x00-\x09\x0b-\x1f]/.test(note)) throw new Error("note contains control characters");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("note has no blank line before its signatures");
  const text = note.slice(0, split + 1), block = note.slice(split + 2);
  if (!block.endsWith("\n")) throw new Error("note must end with a signature line and a newline");
  const keys = await Promise.all(vkeys.map(parseVkey));
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new Error(`note has more than ${MAX_SIGNATURES} signatures`);
  const verified = [];
  for (const line of lines) {
    if (!line.startsWith("\u2014 ")) throw new Error("signature line does not start with an em dash");
    const space = line.indexOf(" ", 2);
    const [name, encoded] = space < 0 ? [line.slice(2), ""] : [line.slice(2, space), line.slice(space + 1)];
    const raw = b64decode(encoded, `signature of ${name}`);
    if (!validName(name) || raw.length < 5) throw new Error(`malformed signature line for ${name}`);
    const id = ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) >>> 0;
    const key = keys.find((k) => k.name === name && k.id === id);
    if (!key || verified.includes(name + id)) continue;
    let ok;
    if (key.alg === 1) ok = await ed25519Verify(key.publicKey, raw.slice(4), enc.encode(text));
    else if (key.alg === 4) {
      const time = new DataView(raw.buffer, raw.byteOffset + 4, 8).getBigUint64(0);
      // C2SP tlog-cosignature: the time "MUST NOT exceed 2^63 - 1"
      ok = raw.length === 76 && time < 2n ** 63n && await ed25519Verify(key.publicKey, raw.slice(12), enc.encode(`cosignature/v1\ntime ${time}\n${text}`));
    } else ok = false;
    if (!ok) throw new Error(`invalid signature by ${name}`);
    verified.push(name + id);
  }
  if (verified.length === 0) throw new Error("note is not signed by any known key");
  return { text, verified: verified.length };
}

// Sizes and indices are BigInts: detente.tlog takes sizes up to 2^63 - 1, and a JavaScript number is exact
// only up to 2^53 - 1 (above it, a size read as a number is another size, and its proofs another length).
const MAX_SIZE = 2n ** 63n;

export function parseCheckpoint(text) {
  const lines = text.slice(0, -1).split("\n");
  if (!text.endsWith("\n") || lines.length < 3) throw new Error("checkpoint needs origin, size and root lines");
  if (!/^(0|[1-9][0-9]{0,19})$/.test(lines[1]) || BigInt(lines[1]) >= MAX_SIZE) throw new Error("checkpoint size is not a decimal below 2^63");
  const root = b64decode(lines[2], "checkpoint root");
  if (root.length !== 32) throw new Error("checkpoint root is not 32 bytes");
  if (lines.slice(3).includes("")) throw new Error("checkpoint extension lines must not be empty");
  return { origin: lines[0], size: BigInt(lines[1]), root };
}

export async function openCheckpoint(note, logVkey, witnessVkeys = []) {
  const log = await parseVkey(logVkey);
  const opened = await openNote(note, [logVkey, ...witnessVkeys]);
  await openNote(note, [logVkey]); // the log's own signature is required, whatever the witnesses say
  const cp = parseCheckpoint(opened.text);
  if (cp.origin !== log.name) throw new Error(`checkpoint origin ${cp.origin} is not the log ${log.name}`);
  return { ...cp, signatures: opened.verified };
}

// --- RFC 9162 proofs ----------------------------------------------------------------------------

// Of a non-negative BigInt: how many bits, and how many of them are set.
const bitLength = (n) => (n === 0n ? 0 : n.toString(2).length);
const popcount = (n) => n.toString(2).replaceAll("0", "").length;

// RFC 9162 2.1.3.2, in BigInts (an index and a size given as numbers are taken as BigInts).
export async function verifyInclusion(index, size, leaf, proof, root) {
  index = BigInt(index); size = BigInt(size);
  if (!(index >= 0n && index < size)) throw new Error(`index ${index} is outside a tree of size ${size}`);
  if (leaf.length !== 32 || root.length !== 32) throw new Error("leaf and root hashes must be 32 bytes");
  const inner = bitLength(index ^ (size - 1n));
  if (proof.length !== inner + popcount(index >> BigInt(inner))) throw new Error("inclusion proof has the wrong length");
  let fn = index, sn = size - 1n, r = leaf;
  for (const p of proof) {
    if (p.length !== 32) throw new Error("proof hash is not 32 bytes");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else r = await nodeHash(r, p);
    fn >>= 1n; sn >>= 1n;
  }
  if (!equal(r, root)) throw new Error(`inclusion proof for entry ${index} does not lead to the root`);
}

// C2SP tlog-proof@v1 for an entry: returns {index, checkpoint} (index and checkpoint.size BigInts).
export async function verifyTlogProof(text, entry, logVkey, witnessVkeys = []) {
  const split = text.indexOf("\n\n");
  if (split < 0) throw new Error("tlog-proof has no empty line before its checkpoint");
  const lines = text.slice(0, split).split("\n");
  if (lines.shift() !== "c2sp.org/tlog-proof@v1") throw new Error("not a c2sp.org/tlog-proof@v1");
  if (lines.length && lines[0].startsWith("extra ")) b64decode(lines.shift().slice(6), "tlog-proof extra data"); // read, as Python reads it, then set aside
  const m = /^index (0|[1-9][0-9]{0,19})$/.exec(lines.shift() || "");
  if (!m) throw new Error("tlog-proof needs an index line");
  const index = BigInt(m[1]);
  const checkpoint = await openCheckpoint(text.slice(split + 2), logVkey, witnessVkeys);
  const proof = lines.map((l, i) => b64decode(l, `proof hash ${i}`));
  await verifyInclusion(index, checkpoint.size, await leafHash(entry), proof, checkpoint.root);
  return { index, checkpoint };
}
