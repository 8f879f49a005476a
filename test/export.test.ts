import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  CHROMIUM_ARGS,
  FigureRenderer,
  type PlotlyFigure,
  checkFormats,
  chromiumPath,
  exportFigure,
  exportFigures,
} from '../lib/plot/export';
import {
  FIGURE_BUNDLE_TRACES,
  bundleKindFor,
  figureHtmlFragment,
  plotlyBundlePath,
  plotlyScriptTag,
} from '../lib/plot/plotly-html';

const CHROMIUM = chromiumPath();
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const NO_CHROMIUM = `Chromium is not installed at ${CHROMIUM} (set UBP_CHROMIUM, or: sudo apt-get install -y chromium)`;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-export-'));
}

// Two traces in colours that appear nowhere else in Plotly's default styling, so the PNG can be searched for them.
const ORANGE = [0xd5, 0x5e, 0x00];
const BLUE = [0x00, 0x72, 0xb2];
function testFigure(): PlotlyFigure {
  return {
    data: [
      {
        type: 'scatter',
        mode: 'lines',
        name: 'alpha-model',
        x: [1, 2, 3, 4],
        y: [1.5, 1.25, 3.5, 4.125],
        line: { color: '#D55E00', width: 6 },
      },
      {
        type: 'scatter',
        mode: 'lines',
        name: 'beta-model',
        x: [1, 2, 3, 4],
        y: [1, 2, 3, 4],
        line: { color: '#0072B2', width: 6 },
      },
    ],
    layout: {
      title: { text: 'Export test figure' },
      xaxis: { title: { text: 'Target entropy (bits)' } },
      width: 640,
      height: 360,
    },
  };
}

// ---------- independent checkers ----------

/** Minimal XML well-formedness check: balanced tags, quoted attributes, valid entities. Returns the root element name. */
function checkXml(xml: string): string {
  const stack: string[] = [];
  let root = '';
  let i = 0;
  const textEntities = (text: string) => {
    for (const m of text.matchAll(/&([^;\s]*);?/g)) {
      assert.match(m[0], /^&(#\d+|#x[0-9a-fA-F]+|[A-Za-z][\w.-]*);$/, `bad entity ${m[0]} near ${i}`);
    }
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      textEntities(xml.slice(i));
      break;
    }
    textEntities(xml.slice(i, lt));
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt);
      assert.ok(end > 0, 'unterminated comment');
      i = end + 3;
      continue;
    }
    if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt);
      assert.ok(end > 0, 'unterminated CDATA');
      i = end + 3;
      continue;
    }
    if (xml.startsWith('<?', lt) || xml.startsWith('<!', lt)) {
      const end = xml.indexOf('>', lt);
      i = end + 1;
      continue;
    }
    // A tag: scan to its closing '>' outside quotes.
    let j = lt + 1;
    let quote: string | null = null;
    for (; j < xml.length; j++) {
      const c = xml[j];
      if (quote) {
        if (c === quote) quote = null;
        else assert.notEqual(c, '<', `"<" inside an attribute value near ${j}`);
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
    }
    assert.ok(j < xml.length, `unterminated tag at ${lt}`);
    const body = xml.slice(lt + 1, j);
    if (body.startsWith('/')) {
      const name = body.slice(1).trim();
      assert.equal(stack.pop(), name, `closing </${name}> does not match`);
    } else {
      const m = /^([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)$/.exec(body);
      assert.ok(m, `malformed tag <${body.slice(0, 80)}>`);
      if (!root) root = m![1];
      if (m![3] !== '/') stack.push(m![1]);
    }
    i = j + 1;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  return root;
}

interface DecodedPng {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel. */
  pixels: Buffer;
}

/** Decodes an 8-bit, non-interlaced RGB/RGBA PNG with node's zlib and the five PNG filters. */
function decodePng(buf: Buffer): DecodedPng {
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      colorType = data[9];
      assert.ok(colorType === 6 || colorType === 2, `colour type ${colorType}`);
      assert.equal(data[12], 0, 'not interlaced');
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const bpp = colorType === 6 ? 4 : 3;
  const stride = width * bpp;
  assert.equal(raw.length, height * (stride + 1), 'inflated size');
  const out = Buffer.alloc(width * height * 4);
  const prev = Buffer.alloc(stride);
  const cur = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? cur[x - bpp] : 0;
      const b = prev[x];
      const c = x >= bpp ? prev[x - bpp] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else assert.equal(filter, 0, `filter type ${filter}`);
      cur[x] = v & 0xff;
    }
    for (let x = 0; x < width; x++) {
      out[(y * width + x) * 4] = cur[x * bpp];
      out[(y * width + x) * 4 + 1] = cur[x * bpp + 1];
      out[(y * width + x) * 4 + 2] = cur[x * bpp + 2];
      out[(y * width + x) * 4 + 3] = bpp === 4 ? cur[x * bpp + 3] : 255;
    }
    cur.copy(prev);
  }
  return { width, height, pixels: out };
}

// ---------- no browser needed ----------

test('checkFormats accepts the four formats and names the known ones for a typo', () => {
  assert.deepEqual(checkFormats(['html', 'svg', 'pdf', 'png', 'svg']), ['html', 'svg', 'pdf', 'png']);
  assert.throws(() => checkFormats(['html', 'jpeg']), /unknown figure format "jpeg" \(known: html, svg, pdf, png\)/);
});

test('HTML export inlines Plotly, loads nothing from the network and embeds the figure data', async () => {
  const dir = tmpDir();
  const r = await exportFigure(testFigure(), path.join(dir, 'fig'), ['html', 'svg'], {
    renderer: null,
    unavailableReason: 'no browser in this test',
  });
  assert.deepEqual(r.files, [path.join(dir, 'fig.html')]);
  assert.deepEqual(r.skipped, [{ format: 'svg', reason: 'no browser in this test' }]);
  const html = fs.readFileSync(path.join(dir, 'fig.html'), 'utf8');
  // No script (or anything else) is fetched: no src/href pointing at http(s).
  assert.doesNotMatch(html, /<script[^>]*\bsrc\s*=/i);
  assert.doesNotMatch(html, /<link[^>]*href\s*=\s*["']?https?:/i);
  // The bundle itself is in the page: its banner and a large size.
  assert.match(html, /plotly\.js v\d+\.\d+\.\d+/);
  assert.ok(html.length > fs.statSync(plotlyBundlePath('figures')).size, 'the page holds the whole bundle');
  // The data: trace names and an exact number of the figure.
  assert.match(html, /"name":"alpha-model"/);
  assert.match(html, /4\.125/);
  assert.match(html, /Plotly\.newPlot\(/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the project's Plotly bundle is of the installed release; figures of other trace types get the full one", () => {
  const own = fs.readFileSync(plotlyBundlePath('figures'), 'utf8');
  const full = fs.readFileSync(plotlyBundlePath('full'), 'utf8');
  const release = (text: string) => /plotly\.js v(\d+\.\d+\.\d+)/.exec(text)?.[1];
  assert.ok(release(full), 'the full bundle names its release');
  assert.equal(release(own), release(full), '.cache/plotly is built from the installed plotly.js-dist-min release');
  assert.ok(own.length < full.length / 3, `${own.length} bytes against ${full.length}`);
  assert.deepEqual([...FIGURE_BUNDLE_TRACES].sort(), ['bar', 'box', 'scatter', 'table']);
  const withTrace = (type?: string): PlotlyFigure => ({ data: [type ? { type } : {}], layout: {} });
  // A trace without a type is a scatter trace in Plotly.
  assert.equal(bundleKindFor([withTrace(), withTrace('box'), withTrace('table'), withTrace('bar')]), 'figures');
  assert.equal(bundleKindFor([withTrace('scatter'), withTrace('heatmap')]), 'full');
  // The page of a figure holds the bundle its traces need.
  const dir = tmpDir();
  const page = (fig: PlotlyFigure, name: string) =>
    exportFigure(fig, path.join(dir, name), ['html'], { renderer: null }).then(() =>
      fs.readFileSync(path.join(dir, `${name}.html`), 'utf8'),
    );
  return Promise.all([page(withTrace('scatter'), 'small'), page(withTrace('heatmap'), 'large')]).then(
    ([small, large]) => {
      assert.ok(small.length < own.length + 10_000 && small.length > own.length, `${small.length}`);
      assert.ok(large.length > full.length, `${large.length}`);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  );
});

test('figure fragments cannot break out of their script element', () => {
  const fig = testFigure();
  fig.data[0].name = '</script><script>alert(1)</script>';
  const frag = figureHtmlFragment(fig, 'f1');
  assert.equal((frag.match(/<\/script>/g) ?? []).length, 1, "only the fragment's own closing tag");
  assert.match(frag, /\\u003c\/script\\u003e/);
  assert.throws(() => figureHtmlFragment(fig, '1 bad id'), /div id/);
  assert.equal((plotlyScriptTag().match(/<\/script/gi) ?? []).length, 1, 'the inlined bundle holds no "</script"');
});

test('a missing Chromium is reported with the install command; HTML is still written', async () => {
  const dir = tmpDir();
  const logs: string[] = [];
  const r = await exportFigures([{ name: 'a', title: 'A', figure: testFigure() }], dir, ['html', 'svg', 'pdf', 'png'], {
    executable: path.join(dir, 'no-such-chromium'),
    log: (s) => logs.push(s),
  });
  assert.deepEqual(r.files, [path.join(dir, 'a.html')]);
  assert.deepEqual(
    r.skipped.map((s) => s.format),
    ['svg', 'pdf', 'png'],
  );
  assert.match(r.skipped[0].reason, /sudo apt-get install -y chromium/);
  assert.match(r.skipped[0].reason, /brew install/);
  assert.match(r.skipped[0].reason, /UBP_CHROMIUM/);
  assert.ok(
    logs.some((l) => /apt-get install -y chromium/.test(l) && /Skipping svg, pdf, png/.test(l)),
    logs.join('\n'),
  );
  assert.ok(!fs.existsSync(path.join(dir, 'a.svg')));
  fs.rmSync(dir, { recursive: true, force: true });
});

// ---------- rendered by Chromium ----------

let renderer: FigureRenderer | null = null;
const outDir = tmpDir();
const PNG_SCALE = 2;

before(async () => {
  if (HAVE_CHROMIUM) renderer = await FigureRenderer.launch(CHROMIUM);
});
after(async () => {
  await renderer?.close();
  fs.rmSync(outDir, { recursive: true, force: true });
});

test('SVG, PDF and PNG are produced by one browser', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const r = await exportFigure(testFigure(), path.join(outDir, 'fig'), ['html', 'svg', 'pdf', 'png'], {
    renderer,
    pngScale: PNG_SCALE,
  });
  assert.deepEqual(r.skipped, []);
  assert.deepEqual(
    r.files.map((f) => path.basename(f)),
    ['fig.html', 'fig.svg', 'fig.pdf', 'fig.png'],
  );
  for (const f of r.files) assert.ok(fs.statSync(f).size > 1000, `${f} is not empty`);
});

test('the SVG is well-formed, sized, and holds both traces and their legend names', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const svg = fs.readFileSync(path.join(outDir, 'fig.svg'), 'utf8');
  assert.equal(checkXml(svg), 'svg');
  assert.match(svg, /^<svg[^>]*\bwidth="640"/);
  assert.match(svg, /^<svg[^>]*\bheight="360"/);
  // Plotly draws each scatter trace as a <g class="trace scatter ..."> holding its line path.
  assert.equal((svg.match(/<g class="trace scatter/g) ?? []).length, 2);
  assert.match(svg, /<path class="js-line" d="M[^"]+"[^>]*stroke: rgb\(213, 94, 0\)/);
  assert.match(svg, /<path class="js-line" d="M[^"]+"[^>]*stroke: rgb\(0, 114, 178\)/);
  assert.match(svg, />alpha-model</);
  assert.match(svg, />beta-model</);
  assert.match(svg, />Target entropy \(bits\)</);
});

test('the PNG is width·scale × height·scale pixels and shows the traces (decoded pixels)', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const png = decodePng(fs.readFileSync(path.join(outDir, 'fig.png')));
  assert.equal(png.width, 640 * PNG_SCALE);
  assert.equal(png.height, 360 * PNG_SCALE);
  // Not blank: many distinct colours, a visible share of non-white pixels, and the traces' exact colours present.
  const colours = new Set<number>();
  let nonWhite = 0;
  const count = (rgb: number[]) => {
    let n = 0;
    for (let i = 0; i < png.pixels.length; i += 4) {
      if (
        png.pixels[i] === rgb[0] &&
        png.pixels[i + 1] === rgb[1] &&
        png.pixels[i + 2] === rgb[2] &&
        png.pixels[i + 3] === 255
      )
        n++;
    }
    return n;
  };
  for (let i = 0; i < png.pixels.length; i += 4) {
    colours.add(png.pixels.readUInt32BE(i));
    if (png.pixels[i] < 240 || png.pixels[i + 1] < 240 || png.pixels[i + 2] < 240) nonWhite++;
  }
  assert.ok(colours.size >= 20, `only ${colours.size} distinct colours`);
  assert.ok(nonWhite / (png.width * png.height) > 0.01, `only ${nonWhite} non-white pixels`);
  // A 6 px line at scale 2 over ~1000 px of plot: thousands of pixels of each trace colour.
  assert.ok(count(ORANGE) > 2000, `orange trace pixels: ${count(ORANGE)}`);
  assert.ok(count(BLUE) > 2000, `blue trace pixels: ${count(BLUE)}`);
});

test('the PDF is one vector page of the figure size', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const pdf = fs.readFileSync(path.join(outDir, 'fig.pdf')).toString('latin1');
  assert.ok(pdf.startsWith('%PDF-'), 'PDF header');
  assert.match(pdf, /%%EOF\s*$/);
  assert.equal((pdf.match(/\/Type\s*\/Page\b/g) ?? []).length, 1, 'one page');
  // 640 × 360 CSS px = 480 × 270 pt.
  const box = /\/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]/.exec(pdf);
  assert.ok(box, 'MediaBox');
  assert.ok(
    Math.abs(Number(box![1]) - 480) < 1 && Math.abs(Number(box![2]) - 270) < 1,
    `MediaBox ${box![1]} × ${box![2]}`,
  );
  // Vector: the figure is drawn with paths and text, not pasted in as a bitmap.
  assert.doesNotMatch(pdf, /\/Subtype\s*\/Image/);
  assert.match(pdf, /\/Font/);
});

test('the exported HTML draws the figure in a browser with the network cut off', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext();
    const requested: string[] = [];
    await context.route(/^https?:/, (route) => {
      requested.push(route.request().url());
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`file://${path.join(outDir, 'fig.html')}`);
    await page.waitForSelector('#figure .main-svg', { timeout: 20000 });
    const legend = await page.$$eval('#figure .legendtext', (els) => els.map((e) => e.textContent));
    assert.deepEqual(legend, ['alpha-model', 'beta-model']);
    assert.deepEqual(requested, [], 'no network request');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("a figure of a trace type outside the project's bundle is drawn with the full bundle", async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const heatmap: PlotlyFigure = {
    data: [
      {
        type: 'heatmap',
        z: [
          [1, 2],
          [3, 4],
        ],
        name: 'heat',
      },
    ],
    layout: { width: 300, height: 200 },
  };
  const svg = await renderer!.svg(heatmap, { width: 300, height: 200 });
  assert.match(svg, /class="[^"]*\bhm\b/, 'a heatmap layer is drawn');
  // The figures bundle alone does not know the trace type (Plotly would draw empty axes).
  const page = renderer!.plotlyPage;
  assert.equal(await page.evaluate(() => 'heatmap' in (window as any).Plotly.PlotSchema.get().traces), false);
});

test('a responsive fragment takes its container width up to the layout width and follows the container', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  // The renderer's page already holds Plotly (loading the 4.8 MB bundle into a fresh page takes seconds here).
  const page = renderer!.plotlyPage;
  // A contextual fragment runs its scripts when inserted, as a notebook output does.
  await page.evaluate(
    (html) => {
      const host = document.createElement('div');
      host.id = 'responsive-test';
      host.appendChild(document.createRange().createContextualFragment(html));
      document.body.appendChild(host);
    },
    `<div id="box" style="width:500px">${figureHtmlFragment(testFigure(), 'r1', { responsive: true })}</div>` +
      `<div style="width:500px">${figureHtmlFragment(testFigure(), 'f1')}</div>`,
  );
  try {
    await page.waitForSelector('#r1 .main-svg');
    await page.waitForSelector('#f1 .main-svg');
    const widths = () =>
      page.evaluate(() => ({
        responsive: document.querySelector('#r1 .svg-container')!.getBoundingClientRect().width,
        fixed: document.querySelector('#f1 .svg-container')!.getBoundingClientRect().width,
        height: document.querySelector('#r1 .svg-container')!.getBoundingClientRect().height,
      }));
    // The container is resized by the page itself (no window resize), as a JupyterLab side panel does.
    const at = async (px: number) => {
      await page.evaluate((w) => (document.getElementById('box')!.style.width = `${w}px`), px);
      await page.waitForFunction(
        (w) => document.querySelector('#r1 .svg-container')!.getBoundingClientRect().width === w,
        Math.min(px, 640),
        { timeout: 5000 },
      );
      return widths();
    };
    // Laid out for 640 × 360: drawn at 500 in a 500-px box, where the fixed fragment keeps 640 and overflows.
    assert.deepEqual(await widths(), { responsive: 500, fixed: 640, height: 360 });
    assert.deepEqual(await at(400), { responsive: 400, fixed: 640, height: 360 });
    // Never wider than the layout it was built for.
    assert.deepEqual(await at(900), { responsive: 640, fixed: 640, height: 360 });
  } finally {
    await page.evaluate(() => document.getElementById('responsive-test')?.remove());
  }
});
