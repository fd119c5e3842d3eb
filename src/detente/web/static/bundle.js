// detente: the offline verifier of evidence bundles (detente.bundle/1, docs/formats.md section 7), in the
// browser (and in Node.js 20+). It mirrors detente.registry.bundle.verify_bundle: the file must be exactly
// RFC 8785 JSON plus one newline, so any changed byte is refused. SHA-256 and Ed25519 come from WebCrypto.
// Statements and log entries are read as detente.statements reads them, by the rules Python hands over
// (detente.web.registrypages.bundle_rules: the size limits and each payloadType's schema), never a copy.
import { b64decode, ed25519Verify, openCheckpoint, parseVkey, sha256, verifyTlogProof } from "./tlog.js";
import { validate } from "./schema.js";

const enc = new TextEncoder();
const MINISTERS = ["head-of-state", "head-of-government", "foreign-minister"];
const SIGNERS = { keyset: ["root"], incident: ["cert"], "incident-reply": ["cert", ...MINISTERS], decision: [] };
const FIELDS = ["blobs", "checkpoint", "claim", "entries", "keys", "schema", "witnesses"];
const HEX64 = /^[0-9a-f]{64}$/;
const SENTENCES = {
  offered: (c) => `${c.party} offered ${c.counterparty} the exchange of letters ${c.ref}`,
  refused: (c) => `${c.party} refused the exchange of letters ${c.ref} offered by ${c.counterparty}`,
  concluded: (c) => `the exchange of letters ${c.ref} between ${c.party} and ${c.counterparty} was concluded`,
  declared: (c) => `${c.party} made the unilateral declaration ${c.ref} (addressed to ${c.counterparty || "all"})`,
  protested: (c) => `${c.party} protested to ${c.counterparty} (${c.ref})`,
  replied: (c) => `${c.party} replied to the protest ${c.ref} of ${c.counterparty}`,
  incident: (c) => `${c.party} reported incident ${c.ref} from the territory of ${c.counterparty}`,
};

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const sameKeys = (v, keys) => isObject(v) && JSON.stringify(Object.keys(v).sort()) === JSON.stringify([...keys].sort());

// RFC 8785: keys sorted by UTF-16 code units, ECMAScript spelling of strings and numbers. A lone surrogate
// has no UTF-8 form, so no canonical spelling (JSON.stringify would escape it; Python refuses it).
export function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${canonical(k)}:${canonical(v[k])}`).join(",")}}`;
  if (typeof v === "number" && !Number.isSafeInteger(v)) throw new Error("JSON numbers must be safe integers");
  if (typeof v === "string" && /\p{Surrogate}/u.test(v)) throw new Error("a JSON string holds a lone surrogate");
  return JSON.stringify(v);
}

export function parseCanonical(bytes, what) {
  let text, value;
  try {
    // ignoreBOM keeps a byte order mark in the text, where JSON.parse refuses it (as Python's json does)
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON`);
  }
  let again;
  try {
    again = canonical(value);
  } catch (e) {
    throw new Error(`${what} cannot be written as canonical JSON: ${e.message}`);
  }
  if (again !== text) throw new Error(`${what} is not RFC 8785 canonical JSON`);
  return value;
}

function pae(type, body) {
  const t = enc.encode(type);
  const head = enc.encode(`DSSEv1 ${t.length} ${type} ${body.length} `);
  const out = new Uint8Array(head.length + body.length);
  out.set(head); out.set(body, head.length);
  return out;
}

// An envelope and its statement, read as detente.statements reads them (Envelope.from_json, then
// open_statement): strict signatures, a known payloadType, the payload's size, canonical JSON, its schema.
async function openStatement(env, what, rules) {
  if (!sameKeys(env, ["payload", "payloadType", "signatures"]) || !Array.isArray(env.signatures)) {
    throw new Error(`${what}: an envelope has exactly payload, payloadType and signatures`);
  }
  if (typeof env.payload !== "string" || typeof env.payloadType !== "string") throw new Error(`${what}: an envelope's payload and payloadType are strings`);
  const sigs = env.signatures.map((s, i) => {
    if (!sameKeys(s, ["keyid", "sig"]) || !HEX64.test(s.keyid) || typeof s.sig !== "string") throw new Error(`${what}: malformed signature ${i}`);
    const sig = b64decode(s.sig, `${what} signature ${i}`);
    if (sig.length !== 64) throw new Error(`${what}: signature ${i} is not an Ed25519 signature of 64 bytes`);
    return { keyid: s.keyid, sig };
  });
  if (sigs.length > rules.maxSignatures || new Set(sigs.map((s) => s.keyid)).size !== sigs.length) {
    throw new Error(`${what}: an envelope carries at most ${rules.maxSignatures} signatures, each key id once`);
  }
  const schema = Object.hasOwn(rules.payloads, env.payloadType) ? rules.payloads[env.payloadType] : null;
  if (!schema) throw new Error(`${what}: unknown payloadType ${env.payloadType.slice(0, 80)}`);
  const payload = b64decode(env.payload, `${what} payload`);
  if (payload.length > rules.maxPayload) throw new Error(`${what}: the payload is ${payload.length} bytes; the limit is ${rules.maxPayload}`);
  const value = parseCanonical(payload, `${what} payload`);
  if (isObject(value) && env.payloadType !== `application/vnd.detente.${value.kind}.v1+json`) throw new Error(`${what}: payloadType is not its kind`);
  validate(value, schema, `${what}: $`, rules.patternMessages);
  const sid = hex(await sha256(payload));
  return { ...value, sid, message: pae(env.payloadType, payload), sigs };
}

async function verifiedBy(st, keys) {
  const good = new Set();
  for (const s of st.sigs) {
    const key = keys[s.keyid];
    if (!key) continue;
    if (!(await ed25519Verify(key, s.sig, st.message))) throw new Error(`a signature on the ${st.kind} by key ${s.keyid.slice(0, 16)}... does not verify`);
    good.add(s.keyid);
  }
  return good;
}

async function readKeyset(st) {
  const keys = {};
  for (const item of st.body.keys) {
    const raw = b64decode(item.public, "keyset key");
    if (raw.length !== 32 || hex(await sha256(raw)) !== item.keyid) throw new Error("a keyset key id is not the hash of its key");
    keys[item.keyid] = raw;
  }
  const roles = {};
  for (const [name, spec] of Object.entries(st.body.roles)) {
    if (spec.keys.some((k) => !keys[k]) || spec.threshold > spec.keys.length || spec.threshold < 1) throw new Error(`keyset role ${name} is inconsistent`);
    roles[name] = spec;
  }
  return { party: st.party, version: st.body.version, previous: st.body.previous, sid: st.sid, keys, roles };
}

async function authorised(keyset, st, roles) {
  // every signature by a key of the keyset must verify, whatever role is asked (a forgery otherwise)
  const valid = await verifiedBy(st, keyset.keys);
  for (const role of roles) {
    const spec = keyset.roles[role];
    if (spec && spec.keys.filter((k) => valid.has(k)).length >= spec.threshold) return role;
  }
  return null;
}

async function nextKeyset(current, st) {
  const next = await readKeyset(st);
  if (!(await authorised(next, st, ["root"]))) throw new Error(`keyset version ${next.version} of ${st.party} lacks its own root threshold`);
  if (!current) {
    if (next.version !== 1 || next.previous !== null) throw new Error(`the first keyset of ${st.party} must be version 1`);
    return next;
  }
  if (next.version !== current.version + 1 || next.previous !== current.sid) throw new Error(`keyset version ${next.version} does not follow version ${current.version}`);
  if (!(await authorised(current, st, ["root"]))) throw new Error(`keyset version ${next.version} lacks the root threshold of version ${current.version}`);
  return next;
}

async function checkpointOf(note, logVkey, witnesses) {
  for (const w of witnesses) {
    if (typeof w !== "string" || (await parseVkey(w)).alg !== 4) throw new Error("a bundle's witnesses are cosignature/v1 verifier keys");
  }
  const cp = await openCheckpoint(note, logVkey, witnesses);
  const lines = note.slice(note.lastIndexOf("\n\n") + 2, -1).split("\n");
  if (cp.signatures !== lines.length) throw new Error("the checkpoint carries a signature line that is not one verified signature by the log key or a listed witness");
  return cp;
}

// detente.statements.schema.TIME: the pattern itself admits only real days of years 0001-9999
const isRealTime = (text, pattern) => typeof text === "string" && new RegExp(pattern, "u").test(text);

async function entriesOf(value, logVkey, rules) {
  const out = [];
  for (const [n, item] of value.entries.entries()) {
    if (!sameKeys(item, ["entry", "proof"]) || typeof item.proof !== "string") throw new Error(`bundle entry ${n} must be exactly {entry, proof}`);
    const data = b64decode(item.entry, `bundle entry ${n}`);
    const split = item.proof.indexOf("\n\n");
    if (split < 0 || item.proof.slice(split + 2) !== value.checkpoint) throw new Error(`the proof of bundle entry ${n} is not against the bundle's checkpoint`);
    if (item.proof.split("\n")[1].startsWith("extra ")) throw new Error(`the proof of bundle entry ${n} has an extra line`);
    const { index } = await verifyTlogProof(item.proof, data, logVkey);
    if (out.length && index <= out[out.length - 1].index) throw new Error("bundle entries must be in strictly increasing log order");
    // detente.registry.entry.LogEntry.decode; an entry holding an acceptable statement is always within
    // MAX_ENTRY, but the documented limit is checked as such
    if (data.length > rules.maxEntry) throw new Error(`log entry ${index} is ${data.length} bytes; the limit is ${rules.maxEntry}`);
    const entry = parseCanonical(data, `log entry ${index}`);
    if (!sameKeys(entry, ["envelope", "received"])) throw new Error(`log entry ${index} has not exactly envelope and received`);
    if (!isRealTime(entry.received, rules.time)) throw new Error(`log entry ${index}'s received time is not a real YYYY-MM-DDTHH:MM:SSZ`);
    out.push({ index, received: entry.received, st: await openStatement(entry.envelope, `log entry ${index}`, rules) });
  }
  return out;
}

async function checkAuthority(entries, notaries) {
  const keysets = {}, offers = {}, claimed = [];
  for (const { index, received, st } of entries) {
    if (st.kind === "keyset") { keysets[st.party] = await nextKeyset(keysets[st.party], st); continue; }
    if (st.kind === "decision") {
      const m1 = offers[st.body.offer];
      const key = m1 && notaries[m1.body.notary];
      if (!key || !(await verifiedBy(st, { [m1.body.notary]: key })).has(m1.body.notary)) throw new Error(`the decision at ${index} is not signed by the notary its offer names`);
    } else {
      const keyset = keysets[st.party];
      if (!keyset || !(await authorised(keyset, st, SIGNERS[st.kind] || MINISTERS))) throw new Error(`the ${st.kind} at ${index} is not signed under ${st.party}'s keyset in force`);
    }
    if (st.kind === "offer" || st.kind === "counter") offers[st.sid] = st;
    claimed.push({ index, received, st });
  }
  return claimed;
}

function kinds(sts, ...expected) {
  const got = sts.map((s) => s.kind).join(",");
  if (!expected.some((e) => e.join(",") === got)) throw new Error(`a claim of this type cannot rest on statements ${got}`);
}

async function concluded(sts, on) {
  kinds(sts, ["offer", "accept", "reveal", "reveal"], ["counter", "accept", "reveal", "reveal"], ["offer", "accept", "decision"], ["counter", "accept", "decision"]);
  const [m1, m2, ...rest] = sts;
  const xid = m1.body.xid;
  if (sts.some((s) => s.body.xid !== xid)) throw new Error("the statements belong to different exchanges");
  if (m2.body.offer !== m1.sid || m2.party !== m1.body.to) throw new Error("the acceptance is not the addressee's acceptance of this offer");
  if (rest.length === 2) {
    const hashes = new Set();
    for (const r of rest) hashes.add(hex(await sha256(b64decode(r.body.nonce, "nonce"))));
    if (m1.body.commitment === m2.body.commitment) throw new Error("the acceptance reuses the offer's commitment: it commits to no nonce of its own");
    if (!hashes.has(m1.body.commitment) || !hashes.has(m2.body.commitment)) throw new Error("the revealed nonces do not open both commitments");
  } else {
    const d = rest[0].body;
    if (d.outcome !== "resolved" || d.offer !== m1.sid || d.accept !== m2.sid) throw new Error("the decision is not a resolution of this offer and acceptance");
  }
  return { type: "concluded", ref: xid, party: m1.party, counterparty: m2.party, on };
}

// detente.accords.projection.check_incident_figures, and the origin rule: what one report cannot all say
function incidentFigures(b) {
  if (b.origin.country !== b.to) throw new Error("the incident's origin state is not the state it is addressed to");
  if (b.end < b.start) throw new Error(`the incident ends (${b.end}) before it starts (${b.start})`);
  if (b.peak_per_minute > b.requests) throw new Error(`the incident's peak (${b.peak_per_minute} a minute) is above its requests (${b.requests})`);
  for (const figure of ["requests", "sources"]) {
    if (b.origin[figure] > b[figure]) throw new Error(`the incident's origin state sent more ${figure} (${b.origin[figure]}) than the incident counts (${b[figure]})`);
  }
}

export async function recomputeClaim(type, claimed) {
  const sts = claimed.map((c) => c.st);
  const on = claimed.length ? claimed[claimed.length - 1].received : "";
  if (type === "offered") { kinds(sts, ["offer"], ["counter"]); return { type, ref: sts[0].body.xid, party: sts[0].party, counterparty: sts[0].body.to, on }; }
  if (type === "refused") {
    kinds(sts, ["offer", "refuse"], ["counter", "refuse"]);
    const [m1, no] = sts;
    if (no.body.offer !== m1.sid || no.party !== m1.body.to) throw new Error("the refusal is not the addressee's refusal of this offer");
    return { type, ref: m1.body.xid, party: no.party, counterparty: m1.party, on };
  }
  if (type === "concluded") return concluded(sts, on);
  const single = { declared: "declaration", protested: "protest", incident: "incident" }[type];
  if (single) {
    kinds(sts, [single]);
    const b = sts[0].body;
    if (single === "incident") incidentFigures(b);
    return { type, ref: b.did || b.pid || b.iid, party: sts[0].party, counterparty: b.to, on };
  }
  if (type === "replied") {
    kinds(sts, ["protest", "reply"]);
    const [p, r] = sts;
    if (r.body.pid !== p.body.pid || r.party !== p.body.to) throw new Error("the reply is not by the addressee of this protest");
    return { type, ref: p.body.pid, party: r.party, counterparty: p.party, on };
  }
  throw new Error(`unknown claim type ${type}`);
}

function requiredBlobs(sts) {
  const cited = new Set();
  for (const st of sts) {
    if (st.kind === "offer" || st.kind === "counter") cited.add(st.body.terms);
    else if (["declaration", "protest", "reply"].includes(st.kind) && st.body.text !== null) cited.add(st.body.text);
  }
  return [...cited].sort();
}

// Verify a bundle's exact bytes against the log's verifier key, reading statements by `rules` (see the
// top); return what it proves, or throw why not.
export async function verifyBundle(bytes, logVkey, rules) {
  if (!isObject(rules) || !isObject(rules.payloads)) throw new Error("the rules to read statements by are missing");
  if (bytes.length > rules.maxBundle) throw new Error(`the bundle is ${bytes.length} bytes; a bundle is at most ${rules.maxBundle}`);
  if (bytes[bytes.length - 1] !== 10) throw new Error("a bundle ends with exactly one newline");
  const value = parseCanonical(bytes.subarray(0, -1), "bundle");
  if (!sameKeys(value, FIELDS) || value.schema !== "detente.bundle/1") throw new Error("not a detente.bundle/1 document with exactly the documented fields");
  if (!Array.isArray(value.witnesses) || !Array.isArray(value.entries) || !isObject(value.keys) || !isObject(value.blobs) || typeof value.checkpoint !== "string") {
    throw new Error("a bundle field has the wrong type");
  }
  const cp = await checkpointOf(value.checkpoint, logVkey, value.witnesses);
  const entries = await entriesOf(value, logVkey, rules);
  if (entries.length && entries[entries.length - 1].index >= cp.size) throw new Error("an entry lies beyond the checkpoint");
  const notaries = {};
  for (const [keyid, encoded] of Object.entries(value.keys)) {
    const raw = b64decode(encoded, "bundle key");
    if (raw.length !== 32 || hex(await sha256(raw)) !== keyid) throw new Error(`bundle key ${keyid.slice(0, 16)}... is not the hash of its public key`);
    notaries[keyid] = raw;
  }
  const claimed = await checkAuthority(entries, notaries);
  const sts = claimed.map((c) => c.st);
  const claim = value.claim;
  if (!sameKeys(claim, ["counterparty", "on", "party", "ref", "type"])) throw new Error("a claim has exactly type, ref, party, counterparty and on");
  if (canonical(await recomputeClaim(claim.type, claimed)) !== canonical(claim)) throw new Error("the statements in the bundle do not prove its claim");
  const decisions = sts.some((s) => s.kind === "decision");
  const needed = decisions ? [...new Set(sts.filter((s) => s.kind === "offer" || s.kind === "counter").map((s) => s.body.notary))].sort() : [];
  if (canonical(Object.keys(notaries).sort()) !== canonical(needed)) throw new Error("the bundle's keys are not exactly the notary keys its decisions need");
  const blobs = Object.keys(value.blobs).sort();
  if (canonical(blobs) !== canonical(requiredBlobs(sts))) throw new Error("the bundle's blobs are not exactly those its statements cite");
  for (const digest of blobs) {
    if (hex(await sha256(b64decode(value.blobs[digest], "blob"))) !== digest) throw new Error(`blob ${digest.slice(0, 16)}... does not match its hash`);
  }
  const sentence = `${SENTENCES[claim.type](claim)}; received by the registry on ${claim.on}`;
  return { claim, origin: cp.origin, size: cp.size, witnesses: cp.signatures - 1, sentence };
}
