// detente: the JSON Schema subset of the statement schemas (docs/formats.md, section 3.1), checked in the
// browser as detente.statements.schema checks it in Python: the same keywords, the same order of checks,
// the same message for the first fault (ADR 0009). The schemas themselves come from Python (the verify
// page carries them); a schema with any other keyword is refused rather than half read.
const KEYWORDS = new Set([
  "type", "properties", "required", "additionalProperties", "enum", "const", "pattern", "minLength",
  "maxLength", "minimum", "maximum", "items", "minItems", "maxItems", "uniqueItems",
]);
const MAX_INT = Number.MAX_SAFE_INTEGER;
const IS = {
  object: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  array: Array.isArray,
  string: (v) => typeof v === "string",
  integer: Number.isInteger,
  boolean: (v) => typeof v === "boolean",
  null: (v) => v === null,
};
const patterns = new Map();

// Python counts and orders strings by code point (JavaScript by UTF-16 unit): messages name them as it does.
const codePoints = (s) => Array.from(s, (c) => c.codePointAt(0));
function byCodePoint(a, b) {
  const x = codePoints(a), y = codePoints(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function fullMatch(pattern, text) {
  // Python's re.fullmatch: the whole string, whatever anchors the pattern has
  if (!patterns.has(pattern)) patterns.set(pattern, new RegExp(`^(?:${pattern})$`, "u"));
  return patterns.get(pattern).test(text);
}

function checkKeywords(schema) {
  for (const key of Object.keys(schema)) if (!KEYWORDS.has(key)) throw new Error(`unsupported schema keyword ${key}`);
  if (![schema.type ?? []].flat().every((t) => Object.hasOwn(IS, t))) throw new Error(`unsupported schema type ${schema.type}`);
  if (![undefined, false].includes(schema.additionalProperties)) throw new Error("only additionalProperties: false is supported");
  for (const key of ["enum", "const"]) {
    if (key in schema && ![schema[key]].flat().every((m) => typeof m === "string")) throw new Error(`only string ${key} values are supported`);
  }
}

// Throw an Error naming the first path of `value` that `schema` refuses (its message as Python's;
// `messages`: what a string not matching a pattern is told, by pattern, where Python does not print it).
export function validate(value, schema, path = "$", messages = {}) {
  checkKeywords(schema);
  const fail = (tail) => { throw new Error(path + tail); };
  if (schema.type !== undefined) {
    const types = [schema.type].flat();
    if (!types.some((t) => IS[t](value))) fail(` must be of type ${types.join(" or ")}`);
  }
  if ("const" in schema && value !== schema.const) fail(` must be '${schema.const}'`);
  if ("enum" in schema && !schema.enum.includes(value)) fail(` must be one of ${schema.enum.join(", ")}`);
  if (typeof value === "string") {
    const low = schema.minLength ?? 0, high = schema.maxLength ?? MAX_INT, length = codePoints(value).length;
    if (length < low || length > high) fail(` has a length outside ${low}..${high}`);
    if (schema.pattern !== undefined && !fullMatch(schema.pattern, value)) {
      fail(Object.hasOwn(messages, schema.pattern) ? messages[schema.pattern] : ` does not match ${schema.pattern}`);
    }
  } else if (IS.integer(value)) {
    if (value < (schema.minimum ?? -MAX_INT) || value > (schema.maximum ?? MAX_INT)) fail(" is out of range");
  } else if (Array.isArray(value)) {
    if (value.length < (schema.minItems ?? 0) || value.length > (schema.maxItems ?? MAX_INT)) {
      fail(` has ${value.length} items, outside the allowed range`);
    }
    // the values come from canonical JSON, where equal values are spelt alike
    if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) fail(" has duplicate items");
    if (schema.items !== undefined) value.forEach((item, i) => validate(item, schema.items, `${path}[${i}]`, messages));
  } else if (IS.object(value)) {
    const properties = schema.properties ?? {};
    const missing = (schema.required ?? []).filter((key) => !Object.hasOwn(value, key));
    if (missing.length) fail(` lacks ${missing.join(", ")}`);
    const extra = Object.keys(value).filter((key) => !Object.hasOwn(properties, key));
    if (schema.additionalProperties === false && extra.length) {
      fail(` has unknown fields: ${extra.sort(byCodePoint).map((k) => Array.from(k).slice(0, 40).join("")).join(", ")}`);
    }
    for (const [key, sub] of Object.entries(properties)) if (Object.hasOwn(value, key)) validate(value[key], sub, `${path}.${key}`, messages);
  }
}
