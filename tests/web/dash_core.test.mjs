// The dashboard's pure parts (src/exporter/web/dash_core.mjs), under node's test
// runner: `node --test tests/web/` (make unit runs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SampleWindow, bucketLabels, classRates, classTotals, errorRatio, errorRatioLine, fmtRatio,
  fmtUs, heatShade, heatmapCells, percentileLines, quantile, rateOver, windowQuantiles,
} from '../../src/exporter/web/dash_core.mjs';

// The exporter's duration bounds (exporter.h), µs.
const BOUNDS = [500, 1000, 2500, 5000, 10000, 25000, 50000, 75000, 100000, 250000, 500000,
  750000, 1000000, 2500000, 5000000, 7500000, 10000000];

function sample(t, classes, buckets = [], dt = 1) {
  const b = new Array(BOUNDS.length + 1).fill(0);
  buckets.forEach(([i, n]) => { b[i] = n; });
  return { t, dt, classes, buckets: b, sum_us: 0 };
}

test('the window keeps the newest samples, oldest first, and never more', () => {
  const w = new SampleWindow(3);
  assert.deepEqual(w.toArray(), []);
  for (let i = 1; i <= 5; i++) w.push({ t: i });
  assert.deepEqual(w.toArray().map((s) => s.t), [3, 4, 5]);
  assert.deepEqual(w.last(2).map((s) => s.t), [4, 5]);
  assert.deepEqual(w.last(9).map((s) => s.t), [3, 4, 5]);
  for (let i = 6; i < 100006; i++) w.push({ t: i });
  assert.equal(w.length, 3);
  assert.equal(w.ring.length, 3);
  assert.deepEqual(w.toArray().map((s) => s.t), [100003, 100004, 100005]);
});

test('reset takes a history, cut to the window', () => {
  const w = new SampleWindow(2);
  w.push({ t: 0 });
  w.reset([{ t: 1 }, { t: 2 }, { t: 3 }]);
  assert.deepEqual(w.toArray().map((s) => s.t), [2, 3]);
  w.reset([]);
  assert.equal(w.length, 0);
});

test('class totals and per-second rates', () => {
  const s = [sample(1, [0, 0, 4, 1, 2, 1]), sample(2, [1, 0, 6, 0, 0, 3], [], 2)];
  assert.deepEqual(classTotals(s), [1, 0, 10, 1, 2, 4]);
  assert.deepEqual(classRates(s, 2), [4, 3]);
  assert.deepEqual(classRates([sample(1, [0, 0, 5, 0, 0, 0], [], 0)], 2), [0]);
  assert.equal(rateOver(s, 10), 18 / 3);
  assert.equal(rateOver(s, 1), 10 / 2);
  assert.equal(rateOver([], 10), 0);
});

test('the 5xx ratio, over a window and as a moving line', () => {
  const s = [sample(1, [0, 0, 3, 0, 0, 1]), sample(2, [0, 0, 0, 0, 0, 0]),
    sample(3, [0, 0, 0, 0, 0, 2]), sample(4, [0, 0, 4, 0, 0, 0])];
  assert.equal(errorRatio(s), 3 / 10);
  assert.equal(errorRatio([sample(1, [0, 0, 0, 0, 0, 0])]), null);
  assert.deepEqual(errorRatioLine(s, 2), [1 / 4, 1 / 4, 1, 2 / 6]);
  assert.deepEqual(errorRatioLine([sample(1, [0, 0, 0, 0, 0, 0])], 60), [null]);
  assert.equal(fmtRatio(1 / 3), '33.3 %');
  assert.equal(fmtRatio(null), '-');
});

test('bucket labels from the bounds, with one above them all', () => {
  const l = bucketLabels(BOUNDS);
  assert.equal(l.length, 18);
  assert.equal(l[0], '\u2264 500\u00b5s');
  assert.equal(l[1], '\u2264 1.00ms');
  assert.equal(l[16], '\u2264 10.0s');
  assert.equal(l[17], '> 10.0s');
});

test('heatmap cells: one column a sample, one cell a bucket', () => {
  const s = [sample(1, [], [[0, 5], [3, 1]]), sample(2, []), sample(3, [], [[17, 2]])];
  const h = heatmapCells(s, 18);
  assert.equal(h.cells.length, 3);
  assert.equal(h.cells[0].length, 18);
  assert.equal(h.cells[0][0], 5);
  assert.equal(h.cells[0][3], 1);
  assert.deepEqual(h.cells[1], new Array(18).fill(0));
  assert.equal(h.cells[2][17], 2);
  assert.equal(h.max, 5);
  assert.equal(h.total, 8);
});

test('heat shades: none is 0, the busiest 1, one request still shows', () => {
  assert.equal(heatShade(0, 10), 0);
  assert.equal(heatShade(3, 0), 0);
  assert.equal(heatShade(10, 10), 1);
  assert.equal(heatShade(1, 1), 1);
  assert.equal(heatShade(1, 1000), 0.15);
  const mid = heatShade(31, 1000);
  assert.ok(mid > 0.15 && mid < 1);
});

test('quantiles interpolate within the bucket, as histogram_quantile does', () => {
  const b = new Array(18).fill(0);
  assert.equal(quantile(b, BOUNDS, 0.5), null);
  b[0] = 10; // ten requests at most 500µs
  assert.deepEqual(quantile(b, BOUNDS, 0.5), { us: 250, pos: 0.5 });
  b[2] = 10; // ten more in (1ms, 2.5ms]
  assert.deepEqual(quantile(b, BOUNDS, 0.5), { us: 500, pos: 1 });
  assert.deepEqual(quantile(b, BOUNDS, 0.75), { us: 1750, pos: 2.5 });
  assert.deepEqual(quantile(b, BOUNDS, 0.99), { us: 1000 + 1500 * 0.98, pos: 2.98 });
  const slow = new Array(18).fill(0);
  slow[17] = 1; // above 10 s: the highest bound, at the top of its row
  assert.deepEqual(quantile(slow, BOUNDS, 0.5), { us: 10000000, pos: 18 });
});

test('percentile lines: a point a sample, none where no request', () => {
  const s = [sample(1, [], [[0, 4]]), sample(2, []), sample(3, [], [[4, 1]])];
  const [p50, p99] = percentileLines(s, BOUNDS, [0.5, 0.99]);
  assert.deepEqual(p50, [0.5, null, 4.5]);
  assert.deepEqual(p99, [0.99, null, 4.99]);
  const [w50] = windowQuantiles(s, BOUNDS, [0.5]);
  assert.deepEqual(w50, { us: 312.5, pos: 0.625 });
});

test('microseconds for a reader', () => {
  assert.equal(fmtUs(0), '0\u00b5s');
  assert.equal(fmtUs(734), '734\u00b5s');
  assert.equal(fmtUs(12345), '12.3ms');
  assert.equal(fmtUs(1500000), '1.50s');
  assert.equal(fmtUs(125000000), '125s');
});
