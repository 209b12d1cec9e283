// dashboard.mjs - the exporter's live page: reads /events (a "hello" with the
// history, then an "update" a second) and draws it with Chart.js (the global
// Chart, from /chart.min.js). Every string from the server is set as text
// (textContent), never as HTML: uris and vhosts come from clients.
import {
  CLASSES, SampleWindow, bucketLabels, classRates, classTotals, errorRatio, errorRatioLine,
  fmtRatio, fmtUs, heatShade, heatmapCells, percentileLines, rateOver, windowQuantiles,
} from './dash_core.mjs';

const QS = [0.5, 0.9, 0.99];
const CLASS_COLORS = { other: '#9aa5b1', '1xx': '#8fb8de', '2xx': '#52b788', '3xx': '#4ea8de',
  '4xx': '#f4a261', '5xx': '#e63946' };
const LINE_COLORS = ['#1d3557', '#7b2cbf', '#d00000'];

const $ = (id) => document.getElementById(id);
const text = (id, v) => { $(id).textContent = String(v); };

let win = null;        // SampleWindow
let bounds = [];       // bucket upper bounds, µs
let rateChart = null, heatChart = null, phaseChart = null;

function timeLabel(ms) {
  const d = new Date(ms);
  return d.toTimeString().slice(0, 8);
}

function common(extra) {
  return Object.assign({
    animation: false, responsive: true, maintainAspectRatio: false, events: [],
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } }, tooltip: { enabled: false } },
  }, extra);
}

function makeRateChart() {
  const shown = ['2xx', '3xx', '4xx', '5xx', 'other'];
  const datasets = shown.map((c) => ({
    label: c, data: [], fill: true, borderWidth: 1, pointRadius: 0, yAxisID: 'y',
    borderColor: CLASS_COLORS[c], backgroundColor: CLASS_COLORS[c] + '99',
  }));
  datasets.push({ label: '5xx ratio (1 min)', data: [], yAxisID: 'yRatio', fill: false,
    borderColor: '#000', borderDash: [4, 3], borderWidth: 1.5, pointRadius: 0 });
  return new Chart($('rate-chart'), {
    type: 'line', data: { labels: [], datasets },
    options: common({ scales: {
      x: { ticks: { maxRotation: 0, autoSkipPadding: 24 } },
      y: { stacked: true, beginAtZero: true, title: { display: true, text: 'requests/s' } },
      yRatio: { axis: 'y', position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false },
        title: { display: true, text: '5xx %' } },
    } }),
  });
}

function makeHeatChart() {
  const nb = bounds.length + 1;
  const labels = bucketLabels(bounds);
  const datasets = [];
  for (let b = 0; b < nb; b++) {
    // order 1: drawn before (under) the percentile lines
    datasets.push({ type: 'bar', label: labels[b], data: [], backgroundColor: [], stack: 'heat',
      yAxisID: 'y', barPercentage: 1, categoryPercentage: 1, borderWidth: 0, order: 1 });
  }
  QS.forEach((q, i) => datasets.push({ type: 'line', label: 'p' + Math.round(q * 100),
    data: [], yAxisID: 'yLines', borderColor: LINE_COLORS[i], backgroundColor: LINE_COLORS[i],
    borderWidth: 1.5, pointRadius: 1.5,
    fill: false, spanGaps: false }));
  return new Chart($('heat-chart'), {
    type: 'bar', data: { labels: [], datasets },
    options: common({
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12,
        filter: (item) => item.datasetIndex >= nb } }, tooltip: { enabled: false } },
      scales: {
        x: { stacked: true, ticks: { maxRotation: 0, autoSkipPadding: 24 } },
        y: { stacked: true, min: 0, max: nb, ticks: { stepSize: 1, autoSkip: true,
          callback: (v) => (v === 0 ? '0' : v <= bounds.length ? fmtUs(bounds[v - 1]) : '') } },
        yLines: { axis: 'y', display: false, min: 0, max: nb },
      },
    }),
  });
}

function makePhaseChart() {
  return new Chart($('phase-chart'), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'mean time per request (ms)', data: [],
      backgroundColor: '#4ea8de' }] },
    options: common({ indexAxis: 'y', scales: { x: { beginAtZero: true } } }),
  });
}

function drawTraffic(samples) {
  const labels = samples.map((s) => timeLabel(s.t));
  const shown = ['2xx', '3xx', '4xx', '5xx'];
  shown.forEach((c, i) => { rateChart.data.datasets[i].data = classRates(samples, CLASSES.indexOf(c)); });
  rateChart.data.datasets[4].data = samples.map((s) => (s.dt > 0 ? (s.classes[0] + s.classes[1]) / s.dt : 0));
  rateChart.data.datasets[5].data = errorRatioLine(samples, 60).map((r) => (r === null ? null : r * 100));
  rateChart.data.labels = labels;
  rateChart.update('none');

  const totals = classTotals(samples);
  CLASSES.forEach((c, i) => text('win-' + c, totals[i]));
  text('win-secs', Math.round(samples.reduce((a, s) => a + s.dt, 0)));
  text('rate-10s', rateOver(samples, 10).toFixed(1));
  text('err-60s', fmtRatio(errorRatio(samples.slice(-60))));

  const nb = bounds.length + 1;
  const heat = heatmapCells(samples, nb);
  for (let b = 0; b < nb; b++) {
    const ds = heatChart.data.datasets[b];
    ds.data = samples.map(() => 1);
    ds.backgroundColor = heat.cells.map((col) => {
      const a = heatShade(col[b], heat.max);
      return a ? 'rgba(193, 18, 31, ' + a.toFixed(3) + ')' : 'rgba(0, 0, 0, 0.03)';
    });
  }
  percentileLines(samples, bounds, QS).forEach((line, i) => { heatChart.data.datasets[nb + i].data = line; });
  heatChart.data.labels = labels;
  heatChart.update('none');
  text('heat-n', heat.total);
  const q = windowQuantiles(samples, bounds, QS);
  ['win-p50', 'win-p90', 'win-p99'].forEach((id, i) => text(id, q[i] ? fmtUs(q[i].us) : '-'));
}

// A table body from rows of cells: [text, className?].
function fillTable(id, rows) {
  const body = $(id).tBodies[0];
  const trs = rows.map((cells) => {
    const tr = document.createElement('tr');
    for (const [value, cls] of cells) {
      const td = document.createElement('td');
      td.textContent = value === null || value === undefined ? '-' : String(value);
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  });
  body.replaceChildren(...trs);
}

function drawInflight(f) {
  text('inflight-n', f.n);
  fillTable('inflight', f.rows.map((r) => [[fmtUs(r.age_us)], [r.method], [r.vhost],
    [r.uri, 'uri'], [r.pid]]));
}

function drawTop(top) {
  const rows = top.rows.slice();
  const q = (r) => [[fmtUs(r.p50)], [fmtUs(r.p90)], [fmtUs(r.p99)]];
  rows.sort((a, b) => b.count - a.count);
  fillTable('top-count', rows.slice(0, 25).map((r) => [[r.count], [r.vhost], [r.uri, 'uri'],
    [fmtUs(r.sum_us)], ...q(r)]));
  rows.sort((a, b) => b.sum_us - a.sum_us);
  fillTable('top-time', rows.slice(0, 25).map((r) => [[fmtUs(r.sum_us)], [r.vhost], [r.uri, 'uri'],
    [r.count], ...q(r)]));
  fillTable('top-vhosts', top.vhosts.map((r) => [[r.count], [r.vhost], [fmtUs(r.sum_us)], ...q(r)]));
  text('top-since', top.since ? 'since ' + timeLabel(top.since) + ', while a page is open' : '');
}

function drawRest(u) {
  const c = u.conns;
  text('conns-open', c.open);
  text('conns-opened', c.opened);
  text('conns-closed', c.closed);
  text('conns-per', c.closed ? (c.requests / c.closed).toFixed(2) : '-');

  $('phases-off').classList.toggle('hidden', !!u.phases);
  $('phases-box').classList.toggle('hidden', !u.phases);
  if (u.phases) {
    phaseChart.data.labels = u.phases.map((p) => p.name);
    phaseChart.data.datasets[0].data = u.phases.map((p) => (p.count ? p.sum_us / p.count / 1000 : 0));
    phaseChart.update('none');
  }

  text('apache', u.apache.length ? u.apache.map((a) => a.version + ' \u00b7 ' + a.mpm + ' \u00b7 ' +
    a.procs + (a.procs === 1 ? ' process' : ' processes') + ' (pid ' + a.pid + ')').join('; ') :
    'no Apache loads the module');
  const h = u.health;
  text('health-series', h.series);
  text('health-max', h.max_series);
  text('health-folded', h.folded);
  text('health-untracked', h.untracked);
  text('health-overflow', h.top_overflow);
  text('health-pages', h.pages);
}

function onHello(ev) {
  const hello = JSON.parse(ev.data);
  bounds = hello.bounds_us;
  win = new SampleWindow(hello.window);
  win.reset(hello.history);
  text('health-version', hello.version);
  if (!rateChart) {
    rateChart = makeRateChart();
    heatChart = makeHeatChart();
    phaseChart = makePhaseChart();
  }
  drawTraffic(win.toArray());
}

function onUpdate(ev) {
  if (!win) return;
  const u = JSON.parse(ev.data);
  win.push(u.sample);
  drawTraffic(win.toArray());
  if (u.inflight) drawInflight(u.inflight);   // null: the exporter was short of memory
  if (u.top) drawTop(u.top);
  drawRest(u);
  $('status').dataset.seq = String(u.seq);
}

function connect() {
  const es = new EventSource('/events');
  const status = $('status');
  es.addEventListener('hello', onHello);
  es.addEventListener('update', onUpdate);
  es.onopen = () => { status.textContent = 'live'; status.className = 'status live'; };
  es.onerror = () => { status.textContent = 'reconnecting'; status.className = 'status lost'; };
}

connect();
