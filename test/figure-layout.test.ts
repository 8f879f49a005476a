/**
 * Paper-ready figures, checked in a real browser: every figure of a domain, built in paper style at single- and
 * double-column width, exported as SVG by Plotly in Chromium and loaded into a page; the outline of every visible
 * text element (getBoundingClientRect, so rotated labels count with their rotated extent) must lie inside the
 * figure and overlap no other. Also: PDF page = the requested inches (MediaBox), PNG = inches × dpi (IHDR).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, pathsUnder, type FigureSize } from '../lib/core/config';
import { FigureRenderer, chromiumPath, exportFigure, rebuildFigure, svgInInches } from '../lib/plot/export';
import { figureOptions, type BuiltFigure } from '../lib/plot/figure-common';
import { buildFigures, trendUncertainty } from '../lib/plot/figures';
import { PAPER_TABLE1 } from '../lib/plot/table1-figure';
import { PX_PER_IN } from '../lib/plot/figure-look';
import { SYNTHETIC_MODELS, synthesizeScores } from '../bench/figures';
import { type TextBox, layoutProblems } from './helpers/text-boxes';

const CHROMIUM = chromiumPath();
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const NO_CHROMIUM = `Chromium is not installed at ${CHROMIUM} (set UBP_CHROMIUM, or: sudo apt-get install -y chromium)`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-layout-'));
// Six models, two of which (popularity, group-popularity) nearly coincide: the hardest legend and the closest curves.
const MODELS = SYNTHETIC_MODELS.slice(0, 6).map((m) => m.id);
const config = loadConfig({ overrides: { paths: pathsUnder(dir), curves: { bootstrap: 20 } }, env: {} });
const DOMAINS = ['movielens', 'lastfm'] as const;
const scores = Object.fromEntries(
  DOMAINS.map((d) => [
    d,
    synthesizeScores(
      d,
      PAPER_TABLE1[d],
      SYNTHETIC_MODELS.filter((m) => MODELS.includes(m.id)),
      11,
    ),
  ]),
);

function paperFigures(
  size: FigureSize,
  domain: (typeof DOMAINS)[number] = 'movielens',
  style: 'paper' | 'screen' = 'paper',
): BuiltFigure[] {
  const opts = figureOptions(config, domain, MODELS, { look: { style, size } });
  return buildFigures(
    domain,
    scores[domain],
    PAPER_TABLE1[domain],
    opts,
    trendUncertainty(config, domain, scores[domain], opts),
  );
}

let renderer: FigureRenderer | null = null;
before(async () => {
  if (HAVE_CHROMIUM) renderer = await FigureRenderer.launch(CHROMIUM);
});
after(async () => {
  await renderer?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Outlines of the visible text elements of an SVG shown in a fresh page, relative to the SVG's own box. */
async function textBoxes(svg: string): Promise<{ width: number; height: number; boxes: TextBox[] }> {
  const page = await renderer!.plotlyPage.context().newPage();
  try {
    await page.setContent(`<!DOCTYPE html><html><body style="margin:0">${svg}</body></html>`);
    return await page.evaluate(() => {
      const root = document.querySelector('svg')!.getBoundingClientRect();
      const boxes: TextBox[] = [];
      for (const el of Array.from(document.querySelectorAll('text'))) {
        const text = (el.textContent ?? '').trim();
        if (!text) continue;
        const style = getComputedStyle(el);
        if (style.display === 'none' || style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
        let hidden = false;
        for (let p: Element | null = el; p; p = p.parentElement) {
          const cs = getComputedStyle(p);
          if (cs.display === 'none' || Number(cs.opacity) === 0) hidden = true;
        }
        if (hidden) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        boxes.push({
          text,
          left: r.left - root.left,
          top: r.top - root.top,
          right: r.right - root.left,
          bottom: r.bottom - root.top,
        });
      }
      return { width: root.width, height: root.height, boxes };
    });
  } finally {
    await page.close();
  }
}

for (const [domain, size] of DOMAINS.flatMap((d) =>
  (['single-column', 'double-column'] as const).map((s) => [d, s] as const),
)) {
  test(`paper style, ${domain}, ${size}: no text of any figure overlaps another or leaves the figure (Chromium)`, async (t) => {
    if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
    const figures = paperFigures(size, domain);
    assert.ok(figures.length >= 2 + 2 * MODELS.length, `${figures.length} figures`);
    const problems: string[] = [];
    for (const f of figures) {
      const width = Number(f.figure.layout.width);
      const height = Number(f.figure.layout.height);
      assert.ok(
        Math.abs(width - (size === 'single-column' ? 3.3 : 7) * PX_PER_IN) < 1e-6,
        `${f.name}: width ${width} px`,
      );
      assert.equal(f.figure.layout.title, undefined, `${f.name}: no title inside a paper figure`);
      const svg = svgInInches(await renderer!.svg(f.figure, { width, height }), { width, height });
      const measured = await textBoxes(svg);
      assert.ok(
        Math.abs(measured.width - width) < 0.5 && Math.abs(measured.height - height) < 0.5,
        `${f.name}: SVG shown at ${measured.width} × ${measured.height}`,
      );
      assert.ok(measured.boxes.length >= 5, `${f.name}: only ${measured.boxes.length} text elements found`);
      problems.push(...layoutProblems(width, height, measured.boxes).map((p) => `${f.name}: ${p}`));
    }
    assert.deepEqual(problems, []);
  });
}

test('screen style at its default size, and paper style at explicit sizes: no overlap, nothing outside (Chromium)', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const problems: string[] = [];
  const trend = paperFigures('double-column')[0];
  const cases: { label: string; figures: BuiltFigure[] }[] = [
    { label: 'screen', figures: paperFigures(null as unknown as FigureSize, 'movielens', 'screen') },
    // An explicit size suits one figure (a grid of several rows needs more height than a trend's one row).
    ...[
      { widthIn: 5, heightIn: 2.2 },
      { widthIn: 3.3, heightIn: 2 },
    ].map((size) => ({
      label: `${size.widthIn} × ${size.heightIn} in`,
      figures: [rebuildFigure(trend, { size }) as BuiltFigure],
    })),
  ];
  for (const c of cases) {
    for (const f of c.figures) {
      const width = Number(f.figure.layout.width);
      const height = Number(f.figure.layout.height);
      const m = await textBoxes(await renderer!.svg(f.figure, { width, height }));
      problems.push(...layoutProblems(width, height, m.boxes).map((p) => `${c.label} ${f.name}: ${p}`));
    }
  }
  assert.deepEqual(problems, []);
  // Too small for its panels: said with the figure and the size, not drawn broken.
  assert.throws(
    () => rebuildFigure(paperFigures('double-column')[2], { size: { widthIn: 3.3, heightIn: 1 } }),
    /cross-entropy by proxy.*: a 1\.00 in high figure leaves .* per panel row/,
  );
});

test('the overlap check itself: overlapping, rotated and outside labels are found', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" style="font: 12px sans-serif">' +
    '<text x="10" y="20">overlapping one</text><text x="30" y="24">overlapping two</text>' +
    '<text x="150" y="95" transform="rotate(-90 150 95)">rotated label</text><text x="180" y="50">outside</text>' +
    '<text x="10" y="80" style="display:none">hidden</text></svg>';
  const m = await textBoxes(svg);
  const problems = layoutProblems(m.width, m.height, m.boxes);
  assert.ok(
    problems.some((p) => /"overlapping one" overlaps "overlapping two"/.test(p)),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => /"outside" lies outside/.test(p)),
    problems.join('\n'),
  );
  // The rotated label stands 'rotated label'-wide tall: it reaches from y = 95 up past the top of "outside".
  const rotated = m.boxes.find((b) => b.text === 'rotated label')!;
  assert.ok(rotated.bottom - rotated.top > 50 && rotated.right - rotated.left < 20, JSON.stringify(rotated));
  assert.ok(!m.boxes.some((b) => b.text === 'hidden'));
});

/** Width and height of a PNG from its IHDR chunk (bytes 16–23). */
function pngSize(buf: Buffer): { width: number; height: number } {
  assert.equal(buf.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

function mediaBox(pdf: Buffer): [number, number] {
  const m = /\/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]/.exec(pdf.toString('latin1'));
  assert.ok(m, 'MediaBox');
  return [Number(m![1]), Number(m![2])];
}

test('one-line export in paper style: PDF page = requested inches (to 1 pt), PNG = inches × dpi, SVG in inches', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const trend = paperFigures('double-column')[0];
  const cases: { size: FigureSize; dpi: number; widthIn: number; heightIn: number | null }[] = [
    { size: 'single-column', dpi: 300, widthIn: 3.3, heightIn: null },
    { size: { widthIn: 5, heightIn: 2.2 }, dpi: 150, widthIn: 5, heightIn: 2.2 },
  ];
  for (const c of cases) {
    const base = path.join(dir, `trend-${c.widthIn}`);
    const r = await exportFigure(trend, base, ['svg', 'pdf', 'png'], {
      renderer,
      style: 'paper',
      size: c.size,
      dpi: c.dpi,
    });
    assert.deepEqual(r.skipped, []);
    const heightIn = c.heightIn ?? Number(/height="([\d.]+)in"/.exec(fs.readFileSync(`${base}.svg`, 'utf8'))![1]);
    assert.match(fs.readFileSync(`${base}.svg`, 'utf8'), new RegExp(`^<svg[^>]*\\bwidth="${c.widthIn}in"`));
    const [w, h] = mediaBox(fs.readFileSync(`${base}.pdf`));
    assert.ok(
      Math.abs(w - c.widthIn * 72) <= 1 && Math.abs(h - heightIn * 72) <= 1,
      `PDF ${w} × ${h} pt for ${c.widthIn} × ${heightIn} in`,
    );
    // One font: the SVG asks for the configured family first, and the PDF embeds that family and no other.
    assert.match(fs.readFileSync(`${base}.svg`, 'utf8'), /font-family: 'DejaVu Sans', 'Liberation Sans'/);
    const fonts = new Set(
      [
        ...fs
          .readFileSync(`${base}.pdf`)
          .toString('latin1')
          .matchAll(/\/FontName\s*\/[A-Z]{6}\+([A-Za-z-]+)/g),
      ].map((m) => m[1].replace(/-.*$/, '')),
    );
    assert.deepEqual([...fonts], ['DejaVuSans'], `PDF fonts: ${[...fonts].join(', ')}`);
    const png = pngSize(fs.readFileSync(`${base}.png`));
    // Exact when inches × dpi is a whole number of pixels, else one of its two neighbours.
    const near = (px: number, want: number) => px === Math.floor(want + 1e-6) || px === Math.ceil(want - 1e-6);
    assert.ok(
      near(png.width, c.widthIn * c.dpi) && near(png.height, heightIn * c.dpi),
      `PNG ${png.width} × ${png.height} for ${c.widthIn} × ${heightIn} in at ${c.dpi} dpi`,
    );
    if (c.heightIn !== null) assert.deepEqual([png.width, png.height], [c.widthIn * c.dpi, c.heightIn * c.dpi]);
  }
});

test('a bare Plotly spec cannot be restyled (it would keep its screen layout)', async () => {
  const trend = paperFigures('single-column')[0];
  await assert.rejects(
    exportFigure(trend.figure, path.join(dir, 'x'), ['html'], { style: 'paper' }),
    /need a figure from buildFigures or runPlot/,
  );
});

test('the check finds the faults of a cramped layout in real Plotly output (no bottom margin; legend over the tick labels)', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const trend = paperFigures('single-column')[0];
  const width = Number(trend.figure.layout.width);
  const height = 160;
  const legend = { ...(trend.figure.layout.legend as object), yref: 'paper', y: 0, yanchor: 'top' };
  const cramped = {
    data: trend.figure.data,
    layout: { ...trend.figure.layout, height, legend, margin: { ...(trend.figure.layout.margin as object), b: 0 } },
  };
  const m = await textBoxes(await renderer!.svg(cramped, { width, height }));
  const problems = layoutProblems(width, height, m.boxes);
  assert.ok(
    problems.some((p) => /lies outside/.test(p)),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => /overlaps/.test(p)),
    problems.join('\n'),
  );
});
