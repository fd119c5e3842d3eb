// Runs the browser's schema validator (static/schema.js) in Node.js.
// Usage: node run_schema.mjs MODULE_PATH CASES_JSON  (cases: [{value, schema, messages}])
// Prints, per case, {error}: the message of the first fault, or null when the value passes.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const mod = await import(pathToFileURL(process.argv[2]).href);
const cases = JSON.parse(readFileSync(process.argv[3], "utf8"));
const results = cases.map((c) => {
  try {
    mod.validate(c.value, c.schema, "$", c.messages ?? {});
    return { error: null };
  } catch (e) {
    return { error: String(e.message) };
  }
});
console.log(JSON.stringify(results));
