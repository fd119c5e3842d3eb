// Runs cases through the browser verifier module in Node.js and prints one JSON result per case.
// Usage: node run_js.mjs MODULE_PATH CASES_JSON
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const mod = await import(pathToFileURL(process.argv[2]).href);
const cases = JSON.parse(readFileSync(process.argv[3], "utf8"));
const b = (s) => mod.b64decode(s, "test input");
// With c.aside, WebCrypto's verdict is set aside (a stand-in says that every signature verifies): only the
// module's own refusals answer, as for keys no one can sign under, where WebCrypto would never be asked.
async function ed25519(c) {
  const subtle = globalThis.crypto.subtle;
  if (c.aside) subtle.verify = async () => true;
  try {
    return await mod.ed25519Verify(b(c.key), b(c.sig), b(c.message));
  } finally {
    delete subtle.verify;
  }
}

const results = [];
for (const c of cases) {
  try {
    if (c.kind === "note") await mod.openNote(c.note, c.vkeys);
    else if (c.kind === "checkpoint") await mod.openCheckpoint(c.note, c.vkey, c.witnesses || []);
    else if (c.kind === "inclusion") await mod.verifyInclusion(c.index, c.size, b(c.leaf), c.proof.map(b), b(c.root));
    else if (c.kind === "tlogproof") await mod.verifyTlogProof(c.proof, b(c.entry), c.vkey);
    else if (c.kind === "ed25519") {
      if (!(await ed25519(c))) throw new Error("the signature does not verify");
    }
    else throw new Error(`unknown case kind ${c.kind}`);
    results.push({ ok: true });
  } catch (e) {
    results.push({ ok: false, error: String(e.message) });
  }
}
console.log(JSON.stringify(results));
