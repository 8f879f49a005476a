// docs/api.md, generated from lib/index.ts with the TypeScript compiler, so the notebooks' public surface is written
// down once and cannot drift from the code. It follows whatever index.ts exports (namespaces, explicit lists, aliases,
// `export type`), because it asks the type checker rather than reading the source text.
//   node scripts/api-doc.mjs            write docs/api.md
//   node scripts/api-doc.mjs --check    exit 1 when docs/api.md differs from what would be written
//   node scripts/api-doc.mjs --count    print the number of exported names (every leaf of every namespace, types too)
//   --root DIR                          document DIR/lib/index.ts with DIR/tsconfig.json (the tests' fixtures use it)
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ts = createRequire(import.meta.url)('typescript');

const SIGNATURE_MAX = 160; // characters of a signature before it is cut (the rest is in the source and the hover)
const SUMMARY_MAX = 240; // characters of a first sentence before it is cut

const cut = (s, max) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);
// Types from other files print as `import("/abs/path/file").Name`: the path is machine-specific, the name is enough.
const typeText = (s) => s.replace(/import\("[^"]*"\)\./g, '').replace(/\s+/g, ' ');
// Plain code-unit order (not localeCompare, whose result depends on the machine's ICU data), case folded first.
const byName = (a, b) => {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
};

function loadProgram(root) {
  const configFile = join(root, 'tsconfig.json');
  const read = ts.readConfigFile(configFile, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const { options } = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configFile);
  // Only index.ts as a root: the checker follows its imports, and the tests, CLI and benches stay out.
  const entry = join(root, 'lib', 'index.ts');
  const program = ts.createProgram([entry], { ...options, noEmit: true });
  const source = program.getSourceFile(entry);
  if (!source) throw new Error(`cannot load ${entry}`);
  return { checker: program.getTypeChecker(), source };
}

const KINDS = [
  [ts.SymbolFlags.Function, 'function'],
  [ts.SymbolFlags.Class, 'class'],
  [ts.SymbolFlags.Enum, 'enum'],
  [ts.SymbolFlags.Variable, 'const'],
  [ts.SymbolFlags.Interface, 'interface'],
  [ts.SymbolFlags.TypeAlias, 'type'],
];

/** A symbol's kinds; a name may be both a value and a type (`const X` with `type X`), so all of them are listed. */
function kindsOf(symbol) {
  return KINDS.filter(([flag]) => symbol.flags & flag).map(([flag, name]) => {
    if (flag !== ts.SymbolFlags.Variable) return name;
    const decl = symbol.valueDeclaration;
    return decl && ts.getCombinedNodeFlags(decl) & ts.NodeFlags.Const ? 'const' : 'variable';
  });
}

/** `(a: A, b?: B): R` for the first call signature of a function (or of a const holding one), cut to length. */
function signatureOf(checker, symbol) {
  const decl = symbol.valueDeclaration;
  if (!decl) return '';
  const type = checker.getTypeOfSymbolAtLocation(symbol, decl);
  const signatures = checker.getSignaturesOfType(type, ts.SignatureKind.Call);
  if (signatures.length === 0) return '';
  // With its own declaration as the scope, the checker prints types as written (`stage: StageName`), not expanded.
  const sig = signatures[0];
  const text = typeText(checker.signatureToString(sig, sig.declaration ?? decl, ts.TypeFormatFlags.NoTruncation));
  const more = signatures.length > 1 ? ` (+${signatures.length - 1} overloads)` : '';
  return cut(text, SIGNATURE_MAX) + more;
}

/** The JSDoc comment's first sentence, on one line ("e.g." and "i.e." do not end it, nor do dots inside names). */
function summaryOf(checker, symbol) {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).replace(/\s+/g, ' ').trim();
  const m = /^.*?(?<!\be\.g|\bi\.e)[.!?](?=\s|$)/.exec(text);
  return cut(m ? m[0] : text, SUMMARY_MAX);
}

/**
 * Every namespace reachable from index.ts, in export order: { path: ['core'], entries: [{ name, kind, ... }] }.
 * Names exported at the top level of index.ts (not inside a namespace) go in the namespace with path [].
 */
export function surface(root) {
  const { checker, source } = loadProgram(root);
  const namespaces = [];
  const seen = new Map(); // resolved symbol → the first qualified name it was documented under
  const walk = (moduleSymbol, path) => {
    const ns = { path, entries: [] };
    namespaces.push(ns);
    const nested = [];
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      // `export * as x from` (and `import * as x; export { x }`) resolve to a module: a namespace, not a name.
      // A function or class merged with a namespace stays a name.
      if (symbol.flags & ts.SymbolFlags.Module && kindsOf(symbol).length === 0) {
        nested.push([symbol, [...path, exported.name]]);
        continue;
      }
      const qualified = [...path, exported.name].join('.');
      ns.entries.push({
        name: exported.name,
        kinds: kindsOf(symbol),
        signature: signatureOf(checker, symbol),
        summary: summaryOf(checker, symbol),
        sameAs: seen.get(symbol),
      });
      if (!seen.has(symbol)) seen.set(symbol, qualified);
    }
    ns.entries.sort((a, b) => byName(a.name, b.name));
    for (const [symbol, p] of nested) walk(symbol, p);
  };
  walk(checker.getSymbolAtLocation(source), []);
  return namespaces.filter((ns) => ns.path.length > 0 || ns.entries.length > 0);
}

export const countNames = (namespaces) => namespaces.reduce((n, ns) => n + ns.entries.length, 0);

export function render(namespaces) {
  const lines = [
    '# The ubp API',
    '',
    '`ubp` is the library behind the notebooks and the CLI: the layers of the analysis (core, data, sample, query,',
    'score, plot) the stages, the notebook helpers and the whole pipeline. A notebook imports its public surface, compiled to',
    '`build/lib/index.js`, with',
    '',
    '```ts',
    "import * as ubp from '../build/lib/index';",
    '```',
    '',
    `and calls e.g. \`ubp.notebook.notebookConfig\`. Below: every name of that surface (${countNames(namespaces)} in`,
    'all), one section per namespace, alphabetically, with its kind, its signature for functions (parameter and',
    "return types cut at a readable length) and its documentation comment's first sentence. The CLI and the tests",
    'import the modules of lib/ directly and may use more than this.',
    '',
    'Generated by scripts/api-doc.mjs from lib/index.ts; do not edit. After changing the exports, run',
    '`node scripts/api-doc.mjs` (`--check` only compares, `--count` prints the number of names).',
  ];
  for (const ns of namespaces) {
    const title = ['ubp', ...ns.path].join('.');
    const n = ns.entries.length;
    lines.push('', `## ${title}`, '', `${n} name${n === 1 ? '' : 's'}.`, '');
    for (const e of ns.entries) {
      const signature = e.signature ? ` \`${e.signature}\`` : '';
      const sameAs = e.sameAs ? ` Also at \`ubp.${e.sameAs}\`.` : '';
      const summary = e.summary ? ` — ${e.summary}` : '';
      lines.push(`- \`${e.name}\` (${e.kinds.join(', ') || 'unknown'})${signature}${summary}${sameAs}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const rootArg = args.indexOf('--root');
  const root = rootArg >= 0 ? resolve(args[rootArg + 1]) : join(dirname(fileURLToPath(import.meta.url)), '..');
  const namespaces = surface(root);
  const file = join(root, 'docs', 'api.md');
  if (args.includes('--count')) {
    console.log(countNames(namespaces));
  } else {
    const text = render(namespaces);
    // A guard for the "no absolute paths" promise: a path that slipped through would make the file machine-specific.
    if (text.includes(root)) throw new Error(`the generated docs/api.md mentions ${root}`);
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {}
    if (args.includes('--check')) {
      if (current !== text) {
        console.error('docs/api.md is out of date with lib/index.ts; run node scripts/api-doc.mjs');
        process.exit(1);
      }
    } else if (current !== text) {
      writeFileSync(`${file}.tmp`, text);
      renameSync(`${file}.tmp`, file);
      console.log(`docs/api.md: ${countNames(namespaces)} names written`);
    }
  }
}
