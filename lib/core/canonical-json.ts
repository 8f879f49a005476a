/**
 * Canonical JSON, the text that response-store keys and stage stamps hash: equal values give equal text whatever
 * their key order. Follows RFC 8785 (JCS) where the two meet: object keys sorted by UTF-16 code units (JavaScript's
 * default sort, as JCS specifies), members whose value is undefined dropped, numbers and strings written by
 * JSON.stringify (JCS's serialisation), no whitespace, and non-finite numbers rejected since JSON has no form for them.
 * Two departures keep existing store keys: undefined in an array or at the top is written as null (as
 * JSON.stringify does inside arrays), and other objects are walked by their own keys without calling toJSON.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, where: string): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value))
        throw new TypeError(`canonicalJson: ${value} at ${where} has no JSON form (only finite numbers do)`);
      return JSON.stringify(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} at ${where} has no JSON form`);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${where}[${i}]`)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${write(obj[k], `${where}.${k}`)}`).join(',')}}`;
}
