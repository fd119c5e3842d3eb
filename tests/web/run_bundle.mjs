// Runs the browser's bundle verifier in Node.js.
// Usage: node run_bundle.mjs MODULE_PATH CASES_JSON  (cases: [{bundle: base64, vkey, rules, flips: bool}])
// Prints, per case, {ok, error, sentence} for the bundle as given, and with flips the offsets of every
// single-byte change (each byte XOR 0x01) that the verifier wrongly accepted.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const mod = await import(pathToFileURL(process.argv[2]).href);
const cases = JSON.parse(readFileSync(process.argv[3], "utf8"));
const results = [];
for (const c of cases) {
  const bytes = Uint8Array.from(Buffer.from(c.bundle, "base64"));
  const out = {};
  try {
    out.sentence = (await mod.verifyBundle(bytes, c.vkey, c.rules)).sentence;
    out.ok = true;
  } catch (e) {
    out.ok = false;
    out.error = String(e.message);
  }
  if (c.flips) {
    out.accepted = [];
    for (let i = 0; i < bytes.length; i++) {
      const changed = bytes.slice();
      changed[i] ^= 1;
      try { await mod.verifyBundle(changed, c.vkey, c.rules); out.accepted.push(i); } catch { /* refused, as it must be */ }
    }
  }
  results.push(out);
}
console.log(JSON.stringify(results));
