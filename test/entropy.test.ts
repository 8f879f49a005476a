import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { entropy } from '../lib/core/entropy';
import { entropy as scoreEntropy } from '../lib/score/score';

test('entropy on hand cases, in bits, nats and hartleys', () => {
  assert.equal(entropy([0.25, 0.25, 0.25, 0.25], 2), 2);
  assert.equal(entropy([0.5, 0.25, 0.25], 2), 1.5);
  assert.equal(entropy([0.5, 0.5, 0, 0], 2), 1, '0·log 0 = 0');
  assert.ok(Math.abs(entropy([0.5, 0.5], Math.E) - Math.LN2) < 1e-15);
  assert.ok(Math.abs(entropy(Array(10).fill(0.1), 10) - 1) < 1e-15);
  // A certain outcome has entropy +0, never −0 (it is written to the sample files).
  assert.ok(Object.is(entropy([1, 0, 0], 2), 0));
  assert.throws(() => entropy([1], 1), /log base must be > 1, got 1/);
});

test('the scorer uses the shared entropy', () => {
  assert.equal(scoreEntropy, entropy);
});
