/**
 * Where the raw datasets come from: a local directory (config.dataDir / UBP_DATA_DIR), an already extracted and
 * verified copy under paths.raw, or the official archive, downloaded (resumable), checked and extracted by streaming.
 */
import { incrementalHash } from '../core/hash';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import * as yauzl from 'yauzl';
import {
  type Config,
  ConfigError,
  type DomainName,
  descriptionOf,
  rawFolderProblem,
  resolvePath,
} from '../core/config';

/** Bad content in a raw data file: names the file, the line (1-based), the field and what was expected. */
export class DataFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly field: string | null,
    readonly detail: string,
  ) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${field ? `field "${field}": ` : ''}${detail}`);
    this.name = 'DataFormatError';
  }
}

export class ChecksumError extends Error {
  constructor(
    readonly file: string,
    readonly algorithm: string,
    readonly expected: string,
    readonly actual: string,
    note = '',
  ) {
    super(`${algorithm} checksum mismatch for ${file}: expected ${expected}, got ${actual}${note ? ` (${note})` : ''}`);
    this.name = 'ChecksumError';
  }
}

/** The message says where it looked; `fix` says how to get the data (printed once, by whoever shows the error). */
export class DatasetUnavailableError extends Error {
  constructor(
    readonly domain: DomainName,
    readonly lookedIn: string[],
    readonly fix: string,
  ) {
    super(`the ${domain} dataset is not available. Looked in:\n${lookedIn.map((l) => `  - ${l}`).join('\n')}`);
    this.name = 'DatasetUnavailableError';
  }
}

/** The files a dataset needs, by logical name (its description's file keys); the first existing alternative wins. */
export function datasetFiles(config: Config, domain: DomainName): Record<string, string[]> {
  const description = descriptionOf(config, domain);
  if (!description) throw new Error(`no dataset description for domain "${domain}" (add one with --dataset FILE or "datasets.${domain}.description")`);
  return Object.fromEntries(Object.entries(description.files).map(([logical, table]) => [logical, table.names]));
}

/** Files taken from an archive besides the required ones (the licence and description). */
const EXTRA_FILES = ['README', 'README.txt'];

const VERIFIED_MARKER = '.ubp-verified.json';

export interface LocatedDataset {
  dir: string;
  /** Logical name (users, movies, ratings / profile, events) → absolute path. */
  files: Record<string, string>;
  source: 'dataDir' | 'raw' | 'download';
}

type Log = (s: string) => void;
const stderrLog: Log = (s) => process.stderr.write(`${s}\n`);

/** Resolves the logical files in `dir`; returns the missing logical names' expected file names when incomplete. */
function findFiles(dir: string, config: Config, domain: DomainName): { files: Record<string, string>; missing: string[] } {
  const files: Record<string, string> = {};
  const missing: string[] = [];
  for (const [logical, alternatives] of Object.entries(datasetFiles(config, domain))) {
    const found = alternatives.map((f) => path.join(dir, f)).find((p) => fs.existsSync(p) && fs.statSync(p).isFile());
    if (found) files[logical] = found;
    else missing.push(alternatives.join(' or '));
  }
  return { files, missing };
}

/** How to get a dataset that was not found; `downloadFailed`: the project's own download was tried and failed. */
function howToGet(config: Config, domain: DomainName, downloadFailed = false): string {
  const src = config.datasets[domain];
  const files = Object.values(datasetFiles(config, domain))
    .map((a) => a.join(' or '))
    .join(', ');
  if (config.dataDir) {
    const dir = path.join(resolvePath(config.dataDir), src.folder);
    return (
      `download ${src.url} and extract it so that ${dir}/ holds ${files}. ` +
      `Or remove "dataDir" from your config (and unset UBP_DATA_DIR)${config.download ? '' : ', set "download": true,'} and let the project fetch it into ${resolvePath(config.paths.raw)}.`
    );
  }
  const local =
    `download ${src.url} and extract it so that ${path.join('<dir>', src.folder)}/ holds ${files}; ` +
    `then set "dataDir" in your config file (or the environment variable UBP_DATA_DIR) to <dir>.`;
  if (downloadFailed) return `check the network connection and run again (a download resumes where it stopped), or ${local}`;
  if (config.download) return local;
  return `${local} Or set "download": true and let the project fetch it into ${resolvePath(config.paths.raw)}.`;
}

interface VerifiedMarker {
  source: string;
  files: Record<string, { bytes: number; md5?: string }>;
}

function readMarker(dir: string): VerifiedMarker | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, VERIFIED_MARKER), 'utf8')) as VerifiedMarker;
  } catch {
    return null;
  }
}

function markerMatches(dir: string, marker: VerifiedMarker, files: Record<string, string>): boolean {
  for (const p of Object.values(files)) {
    const name = path.basename(p);
    const entry = Object.hasOwn(marker.files, name) ? marker.files[name] : undefined;
    if (!entry || fs.statSync(p).size !== entry.bytes) return false;
  }
  return true;
}

export async function locateDataset(config: Config, domain: DomainName, opts: { log?: Log } = {}): Promise<LocatedDataset> {
  const log = opts.log ?? stderrLog;
  const src = config.datasets[domain];
  const lookedIn: string[] = [];

  if (config.dataDir) {
    const dir = path.join(resolvePath(config.dataDir), src.folder);
    const { files, missing } = findFiles(dir, config, domain);
    if (missing.length === 0) return { dir, files, source: 'dataDir' };
    lookedIn.push(`${dir} (dataDir${process.env.UBP_DATA_DIR ? ' / UBP_DATA_DIR' : ''}): missing ${missing.join(', ')}`);
  } else lookedIn.push('dataDir: not set (config "dataDir" or environment variable UBP_DATA_DIR)');

  const rawRoot = resolvePath(config.paths.raw);
  const rawDir = path.join(rawRoot, src.folder);
  {
    const { files, missing } = findFiles(rawDir, config, domain);
    if (missing.length === 0) {
      const marker = readMarker(rawDir);
      if (marker && markerMatches(rawDir, marker, files)) return { dir: rawDir, files, source: 'raw' };
      lookedIn.push(`${rawDir}: files present but not verified (no ${VERIFIED_MARKER} or sizes changed); they will be replaced from the archive`);
    } else lookedIn.push(`${rawDir}: missing ${missing.join(', ')}`);
  }

  const archive = path.join(rawRoot, src.archive);
  // A configured data directory means the data is meant to be local: a missing file there is reported, not fetched.
  const offline = [
    ...(config.download ? [] : ['"download" is false']),
    ...(config.dataDir ? ['"dataDir" is set (the data is expected there)'] : []),
  ];
  if (offline.length && !fs.existsSync(archive)) {
    lookedIn.push(`${archive}: not present, and nothing is downloaded: ${offline.join(' and ')}`);
    throw new DatasetUnavailableError(domain, lookedIn, howToGet(config, domain));
  }
  if (!fs.existsSync(archive)) {
    try {
      await downloadFile(src.url, archive, { log });
    } catch (e) {
      if (e instanceof ChecksumError) throw e;
      lookedIn.push(`${src.url}: download failed: ${(e as Error).message}`);
      throw new DatasetUnavailableError(domain, lookedIn, howToGet(config, domain, true));
    }
  } else log(`[datasets] using the archive already at ${archive}`);

  if (src.archiveMd5) {
    log(`[datasets] verifying MD5 of ${archive} ...`);
    const actual = await md5File(archive);
    if (actual !== src.archiveMd5) {
      fs.rmSync(archive, { force: true });
      throw new ChecksumError(archive, 'MD5', src.archiveMd5, actual, 'the file was deleted; run again to download it afresh');
    }
  } else {
    const checked = Object.keys(src.fileMd5 ?? {});
    log(`[datasets] no checksum is known for ${path.basename(archive)}: the archive cannot be verified${checked.length ? `; the extracted ${checked.join(', ')} are checked against their published MD5s` : ', nor its files'}`);
  }
  await extractDataset(archive, rawDir, domain, config, log);
  const { files, missing } = findFiles(rawDir, config, domain);
  if (missing.length) {
    lookedIn.push(`${archive}: extracted, but it does not contain ${missing.join(', ')}`);
    throw new DatasetUnavailableError(domain, lookedIn, howToGet(config, domain));
  }
  return { dir: rawDir, files, source: 'download' };
}

/**
 * Removes from `dir` only the files extraction puts there (the wanted names and the marker), then `dir` if that
 * leaves it empty; returns whether it is gone. Nothing else is ever deleted: a description names the folder.
 */
function removeOwnFiles(dir: string, wanted: Set<string>): boolean {
  if (!fs.existsSync(dir)) return true;
  for (const name of [...wanted, VERIFIED_MARKER]) {
    const p = path.join(dir, name);
    if (fs.lstatSync(p, { throwIfNoEntry: false })?.isFile()) fs.rmSync(p);
  }
  if (fs.readdirSync(dir).length > 0) return false;
  fs.rmdirSync(dir);
  return true;
}

/**
 * Extracts the dataset's files into a temporary folder beside the target, verifies per-file MD5s, writes the marker,
 * then moves the files into place one by one (the marker last). Only the files it extracts are replaced: whatever
 * else the folder holds stays, and a folder that is, holds or lies in another stage's folder is refused first.
 */
async function extractDataset(archive: string, targetDir: string, domain: DomainName, config: Config, log: Log): Promise<void> {
  const problem = rawFolderProblem(config, domain, true);
  if (problem)
    throw new ConfigError(`"datasets.${domain}.folder" is ${JSON.stringify(config.datasets[domain].folder)}: ${problem}; nothing was extracted`);
  const wanted = new Set([...Object.values(datasetFiles(config, domain)).flat(), ...EXTRA_FILES]);
  const tmpDir = `${targetDir}.extracting`;
  if (!removeOwnFiles(tmpDir, wanted))
    throw new Error(`${tmpDir} holds files that extraction did not put there; move them away and run again`);
  fs.mkdirSync(tmpDir, { recursive: true });
  log(`[datasets] extracting ${path.basename(archive)} into ${targetDir} ...`);
  let extracted: Record<string, { bytes: number; md5: string }>;
  try {
    extracted = archive.endsWith('.zip') ? await extractZip(archive, tmpDir, wanted) : await extractTarGz(archive, tmpDir, wanted);
    const expected = config.datasets[domain].fileMd5 ?? {};
    for (const [name, md5] of Object.entries(expected)) {
      const got = Object.hasOwn(extracted, name) ? extracted[name] : undefined;
      if (got && got.md5 !== md5) {
        // Without an archive checksum the archive itself is the suspect: remove it so the next run downloads it afresh.
        const archiveVerified = !!config.datasets[domain].archiveMd5;
        if (!archiveVerified) fs.rmSync(archive, { force: true });
        throw new ChecksumError(path.join(targetDir, name), 'MD5', md5, got.md5, `extracted from ${archive}; nothing was kept${archiveVerified ? '' : ', and the archive was deleted: run again to download it afresh'}`);
      }
    }
  } catch (e) {
    removeOwnFiles(tmpDir, wanted);
    throw e;
  }
  const marker: VerifiedMarker = { source: archive, files: extracted };
  fs.writeFileSync(path.join(tmpDir, VERIFIED_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  fs.mkdirSync(targetDir, { recursive: true });
  // The old marker goes first: a crash while files are being replaced leaves the folder unverified, extracted again.
  fs.rmSync(path.join(targetDir, VERIFIED_MARKER), { force: true });
  for (const name of Object.keys(extracted)) fs.renameSync(path.join(tmpDir, name), path.join(targetDir, name));
  fs.renameSync(path.join(tmpDir, VERIFIED_MARKER), path.join(targetDir, VERIFIED_MARKER));
  fs.rmdirSync(tmpDir);
}

/** The entry's file name with the archive's top folder stripped, or null when it is not wanted or unsafe. */
function wantedName(entryPath: string, wanted: Set<string>): string | null {
  const parts = entryPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return null;
  const base = parts[parts.length - 1];
  return base && wanted.has(base) && parts.length <= 2 ? base : null;
}

function md5Tap(): { tap: Transform; digest: () => string; bytes: () => number } {
  const hash = incrementalHash('md5');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  return { tap, digest: () => hash.digest('hex'), bytes: () => bytes };
}

export async function extractZip(archive: string, dir: string, wanted: Set<string>): Promise<Record<string, { bytes: number; md5: string }>> {
  const out: Record<string, { bytes: number; md5: string }> = {};
  const zip = await yauzl.openPromise(archive, { lazyEntries: true, autoClose: true });
  try {
    for await (const entry of zip.eachEntry()) {
      const name = wantedName(entry.fileName, wanted);
      if (!name || entry.fileName.endsWith('/')) continue;
      const stream = await zip.openReadStreamPromise(entry);
      const t = md5Tap();
      await pipeline(stream, t.tap, fs.createWriteStream(path.join(dir, name)));
      out[name] = { bytes: t.bytes(), md5: t.digest() };
    }
  } catch (e) {
    throw new Error(`cannot extract ${archive}: ${(e as Error).message} (delete it to download it again)`);
  } finally {
    zip.close();
  }
  return out;
}

export async function extractTarGz(archive: string, dir: string, wanted: Set<string>): Promise<Record<string, { bytes: number; md5: string }>> {
  const out: Record<string, { bytes: number; md5: string }> = {};
  const extract = tar.extract();
  const feeding = pipeline(fs.createReadStream(archive), zlib.createGunzip(), extract);
  try {
    for await (const entry of extract) {
      const name = entry.header.type === 'file' ? wantedName(entry.header.name, wanted) : null;
      if (!name) {
        entry.resume();
        continue;
      }
      const t = md5Tap();
      await pipeline(entry, t.tap, fs.createWriteStream(path.join(dir, name)));
      out[name] = { bytes: t.bytes(), md5: t.digest() };
    }
    await feeding;
  } catch (e) {
    feeding.catch(() => undefined);
    throw new Error(`cannot extract ${archive}: ${(e as Error).message} (delete it to download it again)`);
  }
  return out;
}

export async function md5File(file: string): Promise<string> {
  const hash = incrementalHash('md5');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

export interface DownloadOptions {
  log?: Log;
  /** Attempts after a cut connection or a server error (each resumes where the last stopped). */
  retries?: number;
  retryDelayMs?: number;
  /** A connection silent for this long is cut and retried. */
  idleTimeoutMs?: number;
}

/** getaddrinfo's answers for a name it cannot resolve: not found, or no resolver reachable. */
const DNS_FAILURES = ['ENOTFOUND', 'EAI_AGAIN'];

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`HTTP ${status} from ${url}`);
  }
}

/**
 * Downloads `url` to `dest` through `dest.part`, resuming with an HTTP Range request after a cut connection
 * (or from a .part left by an earlier run), then renames it into place. Prints bytes, rate and ETA.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<void> {
  const log = opts.log ?? stderrLog;
  const retries = opts.retries ?? 5;
  const part = `${dest}.part`;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  let lastError: Error | null = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      const delay = (opts.retryDelayMs ?? 1000) * attempt;
      log(`[datasets] ${lastError?.message}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${retries + 1})`);
      await new Promise((r) => setTimeout(r, delay));
    }
    try {
      await downloadAttempt(url, part, log, opts.idleTimeoutMs ?? 60_000);
      fs.renameSync(part, dest);
      return;
    } catch (e) {
      lastError = e as Error;
      if (e instanceof HttpStatusError && e.status >= 400 && e.status < 500) break;
      // A host name that does not resolve (no network, no DNS, a wrong URL) will not resolve a second later either.
      const code = (e as NodeJS.ErrnoException).code;
      if (code && DNS_FAILURES.includes(code)) {
        lastError = new Error(`the host ${new URL(url).hostname} could not be resolved (${code}): no network connection, or a wrong URL`);
        break;
      }
    }
  }
  const kept = fs.existsSync(part) ? ` (partial data kept in ${part}; running again resumes)` : '';
  throw new Error(`cannot download ${url}: ${lastError?.message ?? 'unknown error'}${kept}`);
}

function request(url: string, headers: Record<string, string>, idleTimeoutMs: number, redirects = 5): Promise<{ res: http.IncomingMessage; url: string }> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { headers }, (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (redirects <= 0) return reject(new Error(`too many redirects from ${url}`));
        const next = new URL(res.headers.location, url).toString();
        request(next, headers, idleTimeoutMs, redirects - 1).then(resolve, reject);
        return;
      }
      resolve({ res, url });
    });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no data for ${idleTimeoutMs / 1000} s`)));
    req.on('error', reject);
  });
}

async function downloadAttempt(url: string, part: string, log: Log, idleTimeoutMs: number): Promise<void> {
  const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  const headers: Record<string, string> = { 'user-agent': 'user-behavior-prediction (dataset download)' };
  if (have > 0) headers.range = `bytes=${have}-`;
  const { res, url: finalUrl } = await request(url, headers, idleTimeoutMs);
  const status = res.statusCode ?? 0;
  let offset = 0;
  let total: number | null = null;
  if (status === 416 && have > 0) {
    res.resume();
    const m = /\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
    if (m && Number(m[1]) === have) return; // the .part is already complete
    fs.rmSync(part, { force: true });
    throw new Error(`server rejected resuming at byte ${have}; starting again`);
  } else if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    if (!m || Number(m[1]) !== have) {
      res.resume();
      fs.rmSync(part, { force: true });
      throw new Error(`server answered the range request with an unexpected range (${res.headers['content-range']}); starting again`);
    }
    offset = have;
    total = m[3] === '*' ? null : Number(m[3]);
    log(`[datasets] resuming ${path.basename(part, '.part')} at ${formatBytes(have)}`);
  } else if (status === 200) {
    const len = Number(res.headers['content-length']);
    total = Number.isFinite(len) && len > 0 ? len : null;
  } else {
    res.resume();
    throw new HttpStatusError(status, finalUrl);
  }
  const name = path.basename(part, '.part');
  const started = Date.now();
  let received = 0;
  let lastPrint = 0;
  const print = (final: boolean) => {
    const now = Date.now();
    if (!final && now - lastPrint < 1000) return;
    lastPrint = now;
    const secs = Math.max((now - started) / 1000, 1e-3);
    const rate = received / secs;
    const done = offset + received;
    let line = `[datasets] ${name}: ${formatBytes(done)}`;
    if (total) {
      const eta = rate > 0 ? (total - done) / rate : Infinity;
      line += ` / ${formatBytes(total)} (${((100 * done) / total).toFixed(1)}%), ${formatBytes(rate)}/s, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : '?'}`;
    } else line += `, ${formatBytes(rate)}/s`;
    log(line);
  };
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      print(false);
      cb(null, chunk);
    },
  });
  // A server that closes mid-body makes the response emit 'aborted'/'error', which pipeline turns into a rejection.
  await pipeline(res, counter, fs.createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' }));
  print(true);
  const size = fs.statSync(part).size;
  if (total !== null && size !== total) throw new Error(`connection closed after ${formatBytes(size)} of ${formatBytes(total)}`);
}
