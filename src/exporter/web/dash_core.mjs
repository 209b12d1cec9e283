// dash_core.mjs - the dashboard's pure parts: the window of per-second
// samples, rates, the heatmap's cells and the percentile lines. No DOM, no
// charts: node's test runner holds them (tests/web/).
//
// A sample is one second of finished requests, as the exporter sends it:
// { t: ms since the epoch, dt: seconds it spans, classes: [other, 1xx, 2xx,
// 3xx, 4xx, 5xx], buckets: requests per duration bucket (bounds_us[i] is the
// upper bound of bucket i; the last bucket, one more, is above them all),
// sum_us: their summed duration }.

export const CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];

// The last `size` samples, oldest first; pushing past size drops the oldest,
// so the page holds as much after an hour as after five minutes.
export class SampleWindow {
  constructor(size) {
    this.size = size;
    this.ring = new Array(size);
    this.head = 0;
    this.length = 0;
  }

  push(sample) {
    this.ring[(this.head + this.length) % this.size] = sample;
    if (this.length < this.size) this.length++;
    else this.head = (this.head + 1) % this.size;
  }

  // Start again from these samples (a reconnected stream's history).
  reset(samples) {
    this.ring = new Array(this.size);
    this.head = 0;
    this.length = 0;
    for (const s of samples.slice(-this.size)) this.push(s);
  }

  // The samples, oldest first (a new array of at most size).
  toArray() {
    const out = new Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.ring[(this.head + i) % this.size];
    return out;
  }

  // The newest n samples (all when fewer), oldest first.
  last(n) {
    const a = this.toArray();
    return n >= a.length ? a : a.slice(a.length - n);
  }
}

// Requests per class summed over samples: [other, 1xx, ..., 5xx].
export function classTotals(samples) {
  const t = [0, 0, 0, 0, 0, 0];
  for (const s of samples) for (let c = 0; c < 6; c++) t[c] += s.classes[c];
  return t;
}

// Requests a second of one class (index in CLASSES), one value a sample.
export function classRates(samples, cls) {
  return samples.map((s) => (s.dt > 0 ? s.classes[cls] / s.dt : 0));
}

// The share of 5xx among the requests of samples: a number in [0, 1], or
// null when there were none.
export function errorRatio(samples) {
  const t = classTotals(samples);
  const all = t.reduce((a, b) => a + b, 0);
  return all ? t[5] / all : null;
}

// The 5xx ratio over the `span` samples ending at each sample (a moving
// window, so a lone error does not read as 100 %): null where no requests.
export function errorRatioLine(samples, span) {
  const out = new Array(samples.length);
  let err = 0, all = 0;
  for (let i = 0; i < samples.length; i++) {
    const add = samples[i].classes;
    err += add[5];
    all += add.reduce((a, b) => a + b, 0);
    if (i >= span) {
      const drop = samples[i - span].classes;
      err -= drop[5];
      all -= drop.reduce((a, b) => a + b, 0);
    }
    out[i] = all ? err / all : null;
  }
  return out;
}

// Requests a second over the newest `span` samples (their summed duration).
export function rateOver(samples, span) {
  const w = samples.slice(-span);
  const secs = w.reduce((a, s) => a + s.dt, 0);
  const n = w.reduce((a, s) => a + s.classes.reduce((x, y) => x + y, 0), 0);
  return secs > 0 ? n / secs : 0;
}

// A bucket's label: "≤ 500µs" ... "≤ 10s", and "> 10s" for the last.
export function bucketLabels(boundsUs) {
  const labels = boundsUs.map((b) => '\u2264 ' + fmtUs(b));
  labels.push('> ' + fmtUs(boundsUs[boundsUs.length - 1]));
  return labels;
}

// The heatmap: one column a sample, one cell a bucket; cells[col][row] is the
// count, max the largest (0: no request in the window), total their sum.
export function heatmapCells(samples, nbuckets) {
  let max = 0, total = 0;
  const cells = samples.map((s) => {
    const col = new Array(nbuckets);
    for (let b = 0; b < nbuckets; b++) {
      const v = s.buckets[b] || 0;
      col[b] = v;
      total += v;
      if (v > max) max = v;
    }
    return col;
  });
  return { cells, max, total };
}

// A cell's shade: 0 for none, else 0.15 to 1 by log(count) / log(max), so a
// bucket with one request still shows beside one with thousands.
export function heatShade(count, max) {
  if (!count || !max) return 0;
  if (max === 1) return 1;
  return 0.15 + 0.85 * (Math.log(count) / Math.log(max));
}

// The q-quantile (0 < q < 1) of bucket counts, as Prometheus'
// histogram_quantile() takes it: linear within the bucket that holds the
// rank (the first bucket from 0). Returns { us, pos }: the value in µs and
// the position in bucket units (bucket b spans [b, b + 1]) for drawing over
// the heatmap; null when there are no requests. A rank in the last bucket
// (above every bound) reads as the highest bound, at the top of its row.
export function quantile(buckets, boundsUs, q) {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (!total) return null;
  const rank = q * total;
  let below = 0;
  for (let b = 0; b < buckets.length; b++) {
    const n = buckets[b];
    if (n > 0 && below + n >= rank) {
      if (b >= boundsUs.length) return { us: boundsUs[boundsUs.length - 1], pos: b + 1 };
      const lo = b === 0 ? 0 : boundsUs[b - 1];
      const f = (rank - below) / n;
      return { us: lo + (boundsUs[b] - lo) * f, pos: b + f };
    }
    below += n;
  }
  return null;
}

// One line per quantile over the samples: lines[i][col] is the position of
// qs[i] in that second's buckets, or null when it had no request.
export function percentileLines(samples, boundsUs, qs) {
  return qs.map((q) => samples.map((s) => {
    const r = quantile(s.buckets, boundsUs, q);
    return r ? r.pos : null;
  }));
}

// The quantiles over a whole window of samples (its buckets summed).
export function windowQuantiles(samples, boundsUs, qs) {
  const sum = new Array(boundsUs.length + 1).fill(0);
  for (const s of samples) for (let b = 0; b < sum.length; b++) sum[b] += s.buckets[b] || 0;
  return qs.map((q) => quantile(sum, boundsUs, q));
}

// Microseconds for a reader: "734µs", "12.3ms", "1.50s", "125s".
export function fmtUs(us) {
  if (us < 1000) return Math.round(us) + '\u00b5s';
  if (us < 1e6) return sig3(us / 1e3) + 'ms';
  return sig3(us / 1e6) + 's';
}

function sig3(v) {
  if (v >= 100) return String(Math.round(v));
  if (v >= 10) return (Math.round(v * 10) / 10).toFixed(1);
  return (Math.round(v * 100) / 100).toFixed(2);
}

// A ratio in [0, 1] as a percentage with one decimal; "-" for null.
export function fmtRatio(r) {
  return r === null || r === undefined ? '-' : (r * 100).toFixed(1) + ' %';
}
