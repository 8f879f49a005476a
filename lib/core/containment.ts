/**
 * What a description or a configuration may name, both being untrusted input: paths that stay inside the folder
 * they are joined to, domain names that collide with nothing, keys that cannot change an object's prototype, and
 * the resolved-path comparisons that say whether one folder is, holds or lies inside another.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIGURES_ROOT_FILES } from './config-types';

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Why `name` cannot be a domain, or null. A domain names a folder under every stage's folder, beside the files the
 * figures folder holds itself, and a key of the configuration's maps, where "constructor" would find Object's.
 */
export function domainNameProblem(name: string): string | null {
  if (!NAME_PATTERN.test(name)) return 'must be lower-case letters, digits, ".", "_" or "-" (it names folders)';
  if (name in Object.prototype) return 'is a name every JavaScript object already has; choose another';
  const file = FIGURES_ROOT_FILES.find((f) => name === f.toLowerCase() || name.startsWith(`${f.toLowerCase()}.`));
  if (file) return `would name a folder beside the figures folder's own "${file}"; choose another`;
  return null;
}

/**
 * Why `p` cannot name a place inside the folder it is meant for, or null: `segment` allows one plain name,
 * `relative` plain names joined by "/". A description is untrusted input, and the tool reads, writes and replaces
 * what it names, so nothing it names may climb out (no "..", no absolute path, no "\\" that Windows reads as "/").
 */
export function unsafePathReason(p: string, kind: 'segment' | 'relative'): string | null {
  if (p === '') return 'is empty';
  if (p.includes('\0')) return 'contains a NUL character';
  if (p.includes('\\')) return 'contains "\\"';
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return 'is an absolute path';
  const parts = p.split('/');
  if (parts.includes('..'))
    return parts.length === 1 ? 'is ".." (the folder above)' : 'has the part ".." (it climbs out)';
  if (parts.includes('.')) return parts.length === 1 ? 'is "." (the folder itself)' : 'has the part "."';
  if (parts.includes('')) return 'has an empty part';
  if (kind === 'segment' && parts.length > 1) return 'contains "/"';
  return null;
}

/** The path of the first "__proto__" key in a parsed JSON value (assigning it would change an object's prototype). */
export function protoKeyPath(v: unknown, where = ''): string | null {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const found = protoKeyPath(v[i], `${where}[${i}]`);
      if (found !== null) return found;
    }
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const key = where ? `${where}.${k}` : k;
      if (k === '__proto__') return key;
      const found = protoKeyPath(x, key);
      if (found !== null) return found;
    }
  }
  return null;
}

/** `p` absolute, with symbolic links resolved as far as it exists (a link into the store is the store). */
export function realPath(p: string): string {
  let dir = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(dir), ...rest);
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return path.join(dir, ...rest);
      rest.unshift(path.basename(dir));
      dir = parent;
    }
  }
}

/** Whether `inner` is `outer` or lies inside it. */
export function within(inner: string, outer: string): boolean {
  const r = path.relative(outer, inner);
  return r === '' || (r !== '..' && !r.startsWith(`..${path.sep}`) && !path.isAbsolute(r));
}
