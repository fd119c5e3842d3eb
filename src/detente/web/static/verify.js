// The verify page: reads the files the user chose and checks them with tlog.js, in the browser only.
import { verifyTlogProof } from "./tlog.js";
import { verifyBundle } from "./bundle.js";

const $ = (id) => document.getElementById(id);

function show(ok, lines) {
  const box = $("result");
  box.replaceChildren();
  const head = document.createElement("p");
  head.className = ok ? "ok" : "bad";
  head.id = "verdict";
  head.textContent = ok ? "Proven." : "Refused.";
  box.append(head);
  for (const line of lines) {
    const p = document.createElement("p");
    p.textContent = line;
    box.append(p);
  }
}

async function readFile(input, what) {
  const file = $(input).files[0];
  if (!file) throw new Error(`choose the ${what} first`);
  return new Uint8Array(await file.arrayBuffer());
}

$("verify-proof").addEventListener("click", async () => {
  try {
    const proof = new TextDecoder("utf-8", { fatal: true }).decode(await readFile("proof-file", "proof file"));
    const entry = await readFile("entry-file", "entry file");
    const vkey = $("log-key").value.trim();
    const { index, checkpoint } = await verifyTlogProof(proof, entry, vkey);
    show(true, [
      `Entry ${index} is in the log ${checkpoint.origin}, as of its checkpoint of ${checkpoint.size} entries.`,
      `The checkpoint is signed by the log key you gave; the entry's bytes are exactly those in the log.`,
    ]);
  } catch (e) {
    show(false, [e.message]);
  }
});

// The page carries the rules statements are read by (generated from the Python code when the registry
// starts), as it carries this code: a bundle is checked against them and nothing else the server says.
$("verify-bundle")?.addEventListener("click", async () => {
  try {
    const bytes = await readFile("bundle-file", "bundle file");
    const rules = JSON.parse($("bundle-rules").textContent);
    const result = await verifyBundle(bytes, $("log-key").value.trim(), rules);
    const witnesses = result.witnesses ? `, cosigned by ${result.witnesses} witness(es)` : "";
    show(true, [
      `PROVEN as of checkpoint ${result.size} of ${result.origin}${witnesses}: ${result.sentence}.`,
      "Every statement is signed under its party's keyset in force and included in that checkpoint. " +
        "A bundle proves a positive fact as of its checkpoint; ask the log whether anything came later.",
    ]);
  } catch (e) {
    show(false, [e.message]);
  }
});
