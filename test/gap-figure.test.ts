// The gap-profile figure draws the score stage's profile as given: one point per bin at its mean gap, the bands it
// has, filled markers exactly on the bins of the departure region, and legend entries only for marks it draws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../lib/core/config';
import { figureOptions } from '../lib/plot/figure-common';
import { type GapProfiles, gapProfileFigure } from '../lib/plot/gap-figure';
import type { ProfileBin } from '../lib/score/gap';

const CONFIG = loadConfig();
const STATS = { threshold: 0.1, confidence: 0.95, unit: 'bits' };

function bin(lo: number, hi: number, gap: number, band: boolean): ProfileBin {
  return {
    lo,
    hi,
    x: (lo + hi) / 2,
    prompts: 40,
    clusters: 30,
    gap,
    low: band ? gap - 0.02 : null,
    high: band ? gap + 0.02 : null,
    simLow: band ? gap - 0.04 : null,
    simHigh: band ? gap + 0.04 : null,
  };
}

type Trace = {
  name: string;
  showlegend?: boolean;
  y: (number | null)[];
  marker?: { symbol: string | string[] };
  meta?: { role: string; model?: string; setup?: string };
};

test('bins of the departure region have filled markers, the others open; bands and threshold are drawn as given', () => {
  const profiles: GapProfiles = {
    A: {
      'item-cf': {
        prompts: 120,
        profile: [bin(3.5, 4, 0.02, true), bin(4, 4.3, 0.08, true), bin(4.3, 4.6, 0.3, true)],
        region: { direction: 'high end', ranges: [[4.3, 4.6]], edge: null, share: 0.9 },
      },
    },
  };
  const f = gapProfileFigure('movielens', profiles, figureOptions(CONFIG, 'movielens', ['item-cf']), STATS)!;
  const traces = f.figure.data as Trace[];
  const profile = traces.find((t) => t.meta?.role === 'profile')!;
  assert.deepEqual(profile.y, [0.02, 0.08, 0.3]);
  const symbols = profile.marker!.symbol as string[];
  assert.ok(symbols[0].endsWith('-open') && symbols[1].endsWith('-open'), symbols.join());
  assert.ok(!symbols[2].endsWith('-open'), 'the region bin is filled');
  const threshold = traces.find((t) => t.meta?.role === 'threshold')!;
  assert.deepEqual(threshold.y, [0.1, 0.1]);
  assert.equal(traces.filter((t) => t.meta?.role === 'simultaneous-band').length, 2);
  const band = traces.find((t) => t.meta?.role === 'pointwise-band')!;
  const expected = [0.04, 0.1, 0.32, 0.28, 0.06, 0.0];
  band.y.forEach((v, k) => assert.ok(Math.abs(v! - expected[k]) < 1e-12, `band ${k}: ${v}`));
  const legend = traces
    .filter((t) => t.showlegend !== false && t.meta?.role !== 'zero')
    // A name too long for its legend column wraps (<br>); the words are what matter here.
    .map((t) => t.name.replace(/<br>/g, ' '));
  assert.deepEqual(legend.sort(), [
    'departure threshold 0.1 bits',
    'filled: bin in the departure region',
    'item-cf',
    'pointwise band (shaded)',
    'simultaneous band (dotted)',
  ]);
});

test('without bands or a region there is no legend entry for them; setups without a profile are left out', () => {
  const profiles: GapProfiles = {
    A: {
      oracle: {
        prompts: 80,
        profile: [bin(3.5, 4, 0, false), bin(4, 4.6, 0, false)],
        region: { direction: 'none', ranges: [], edge: null, share: null },
      },
    },
    B: {},
  };
  const f = gapProfileFigure('movielens', profiles, figureOptions(CONFIG, 'movielens', ['oracle']), STATS)!;
  const traces = f.figure.data as Trace[];
  const legend = traces
    .filter((t) => t.showlegend !== false && t.meta?.role !== 'zero')
    // A name too long for its legend column wraps (<br>); the words are what matter here.
    .map((t) => t.name.replace(/<br>/g, ' '));
  assert.deepEqual(legend.sort(), ['departure threshold 0.1 bits', 'oracle']);
  assert.deepEqual((f.data as { drawnSetups: string[] }).drawnSetups, ['A']);
  assert.ok(traces.every((t) => !t.meta?.setup || t.meta.setup === 'A'));
  assert.equal(gapProfileFigure('movielens', { A: {} }, figureOptions(CONFIG, 'movielens', ['oracle']), STATS), null);
});
