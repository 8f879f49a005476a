/**
 * Up-to-date checks: each stage output folder holds a stamp naming the digest of its inputs (upstream outputs +
 * the configuration the stage reads) and of its outputs. A stage is skipped when the inputs digest is unchanged and
 * every output still has the recorded content, so a second run costs seconds and nothing is paid twice.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalJson } from './canonical-json';
import { readJson, writeJsonAtomic } from './io';

export interface Stamp {
  v: number;
  stage: string;
  inputs: string;
  outputs: Record<string, string>;
  finishedAt: string;
}

const STAMP_VERSION = 1;

export function digestOf(...parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : canonicalJson(p)).update('\u0000');
  return h.digest('hex');
}

export function fileDigest(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Large raw inputs (the 2.4 GB Last.fm file) are fingerprinted by size and mtime, not read. */
export function fileIdentity(file: string): string {
  const st = fs.statSync(file);
  return `${path.basename(file)}:${st.size}:${Math.round(st.mtimeMs)}`;
}

export function stampFile(dir: string, stage: string, key = ''): string {
  return path.join(dir, `.stamp-${stage}${key ? `-${key.replace(/[^A-Za-z0-9_.+-]/g, '_')}` : ''}.json`);
}

export function isUpToDate(file: string, inputs: string): boolean {
  if (!fs.existsSync(file)) return false;
  let stamp: Stamp;
  try {
    stamp = readJson<Stamp>(file);
  } catch {
    return false;
  }
  if (stamp.v !== STAMP_VERSION || stamp.inputs !== inputs) return false;
  for (const [out, digest] of Object.entries(stamp.outputs)) {
    if (!fs.existsSync(out) || fileDigest(out) !== digest) return false;
  }
  return true;
}

export function writeStamp(file: string, stage: string, inputs: string, outputs: string[]): Stamp {
  const stamp: Stamp = {
    v: STAMP_VERSION,
    stage,
    inputs,
    outputs: Object.fromEntries(outputs.filter((f) => fs.existsSync(f)).map((f) => [f, fileDigest(f)])),
    finishedAt: new Date().toISOString(),
  };
  writeJsonAtomic(file, stamp);
  return stamp;
}

/** The digest of a stage's outputs as recorded in its stamp (what downstream stages depend on). */
export function outputsDigest(file: string): string | null {
  if (!fs.existsSync(file)) return null;
  try {
    return digestOf(readJson<Stamp>(file).outputs);
  } catch {
    return null;
  }
}
