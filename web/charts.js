// Charts (Chart.js 3, built into the server from Debian's libjs-chart.js) and the metric rows
// they draw: learning curves with one line per trial, hyperparameter scatter, grouped bars.
import { el, fmtDuration, fmtNum } from './dom.js';

const PALETTE = ['#2f6fb3', '#d9622b', '#2a9d6a', '#b23a6f', '#7a5cc4', '#b8932a', '#3aa0b8',
  '#6b7a2a', '#c44a4a', '#555e6b'];
export const colorFor = (i) => PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];

// Closing summaries (one value per run), shown in tables rather than drawn as curves.
const SUMMARY_KEYS = new Set(['train_runtime', 'train_steps_per_second', 'train_loss']);
const ORDER = ['training/loss', 'validation/eval_loss', 'training/learning_rate',
  'training/tokens_per_second', 'validation/eval_bleu', 'validation/eval_accuracy',
  'training/grad_norm', 'training/epoch'];
const TITLES = {
  'training/loss': 'training loss', 'validation/eval_loss': 'validation loss',
  'training/learning_rate': 'learning rate', 'training/tokens_per_second': 'tokens/s',
  'validation/eval_bleu': 'validation BLEU', 'validation/eval_accuracy': 'validation token accuracy',
  'training/grad_norm': 'gradient norm', 'training/epoch': 'epoch',
};

// The metric rows of some trials as they arrive (GET .../metrics?after=N), one value per
// (trial, group, metric, step): a restarted trial logs its steps again and the later row wins.
export class MetricRows {
  constructor() {
    this.after = new Map();   // url -> the last row id read from it
    this.values = new Map();  // "trial|group|metric" -> Map(step -> {y, time})
  }

  add(rows) {
    for (const r of rows) {
      for (const [k, v] of Object.entries(r.metrics || {})) {
        if (typeof v !== 'number' || SUMMARY_KEYS.has(k)) continue;
        const key = `${r.trial_id}|${r.group}|${k}`;
        if (!this.values.has(key)) this.values.set(key, new Map());
        this.values.get(key).set(r.step, { y: v, time: r.time });
      }
    }
  }

  // Reads every row written since the last call from `url` (…/metrics).
  async fetch(getJSON, url) {
    for (;;) {
      const page = await getJSON(`${url}?after=${this.after.get(url) || 0}`);
      this.add(page.rows);
      this.after.set(url, page.last_id);
      if (!page.more) return;
    }
  }

  // ["training/loss", ...]: every metric with values, the usual ones first.
  metrics() {
    const names = new Set([...this.values.keys()].map((k) => k.split('|').slice(1).join('|').replace('|', '/')));
    const rank = (m) => (ORDER.includes(m) ? ORDER.indexOf(m) : ORDER.length);
    return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }

  // The points of one trial's metric, by step or by seconds since `start`.
  points(trial, metric, xMode, start) {
    const m = this.values.get(`${trial}|${metric.replace('/', '|')}`);
    if (!m) return [];
    return [...m.entries()].sort((a, b) => a[0] - b[0])
      .map(([step, v]) => ({ x: xMode === 'time' ? v.time - start : step, y: v.y }));
  }
}

export function metricTitle(metric) {
  return TITLES[metric] || metric.replace('/', ' ');
}

// One learning curve chart: a figure with a title and a canvas; setSeries() replaces its lines.
export class CurveChart {
  constructor(metric) {
    const [group, name] = metric.split('/');
    this.canvas = el('canvas', { dataset: { group, metric: name } });
    this.figure = el('figure', { class: 'chart' }, el('figcaption', {}, metricTitle(metric),
      el('span', { class: 'muted' }, ` ${group}/${name}`)), el('div', { class: 'canvas-box' }, this.canvas));
    this.chart = new Chart(this.canvas, {
      type: 'line',
      data: { datasets: [] },
      options: lineOptions(),
    });
  }

  // series: [{trialId, label, color, points: [{x, y}]}]; xMode 'step' or 'time'.
  setSeries(series, xMode) {
    const byId = new Map(this.chart.data.datasets.map((d) => [d.trialId, d]));
    this.chart.data.datasets = series.map((s) => {
      const d = byId.get(s.trialId) || { trialId: s.trialId };
      return Object.assign(d, {
        label: s.label, data: s.points, borderColor: s.color, backgroundColor: s.color,
        borderWidth: 1.5, pointRadius: s.points.length > 40 ? 0 : 2, tension: 0,
      });
    });
    const x = this.chart.options.scales.x;
    x.title.text = xMode === 'time' ? 'time since the trial started' : 'step';
    x.ticks.callback = xMode === 'time' ? (v) => fmtDuration(v) || '0s' : (v) => fmtNum(v);
    this.chart.update('none');
  }
}

function lineOptions() {
  return {
    animation: false,
    parsing: false,
    normalized: true,
    maintainAspectRatio: false,
    interaction: { mode: 'nearest', intersect: false },
    plugins: {
      legend: { labels: { boxWidth: 12, font: { size: 11 } } },
      tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtNum(c.parsed.y)} (x ${fmtNum(c.parsed.x)})` } },
    },
    scales: {
      x: { type: 'linear', title: { display: true, text: 'step' }, ticks: {} },
      y: { type: 'linear' },
    },
  };
}

// A grid of curve charts, one per metric, kept in the usual order as metrics appear.
export class CurveGrid {
  constructor() {
    this.node = el('div', { class: 'charts' });
    this.charts = new Map();
  }

  // trials: [{id, label, start_time}] in colour order.
  update(rows, trials, xMode) {
    for (const metric of rows.metrics()) {
      if (!this.charts.has(metric)) this.charts.set(metric, new CurveChart(metric));
      const chart = this.charts.get(metric);
      this.node.append(chart.figure);
      chart.setSeries(trials.map((t, i) => ({
        trialId: t.id, label: t.label, color: colorFor(t.color ?? i),
        points: rows.points(t.id, metric, xMode, t.start_time),
      })).filter((s) => s.points.length), xMode);
    }
  }
}

// points: [{x, y, label, color}]; categories: tick labels when x is categorical.
export function scatterChart(canvas, old, points, xTitle, yTitle, categories) {
  if (old) old.destroy();
  return new Chart(canvas, {
    type: 'scatter',
    data: { datasets: points.map((p) => ({ label: p.label, data: [{ x: p.x, y: p.y }], backgroundColor: p.color, pointRadius: 6 })) },
    options: {
      animation: false, maintainAspectRatio: false,
      plugins: {
        legend: { labels: { boxWidth: 12, font: { size: 11 } } },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtNum(c.parsed.y)}` } },
      },
      scales: {
        x: categories ? {
          type: 'linear', title: { display: true, text: xTitle }, min: -0.5, max: categories.length - 0.5,
          afterBuildTicks: (axis) => { axis.ticks = categories.map((_, i) => ({ value: i })); },
          ticks: { callback: (v) => categories[v] ?? '' },
        } : { type: 'linear', title: { display: true, text: xTitle } },
        y: { title: { display: true, text: yTitle } },
      },
    },
  });
}

// labels: x categories; datasets: [{label, values (one per label), color}].
export function barChart(canvas, old, labels, datasets, yTitle) {
  if (old) old.destroy();
  return new Chart(canvas, {
    type: 'bar',
    data: { labels, datasets: datasets.map((d) => ({ label: d.label, data: d.values, backgroundColor: d.color })) },
    options: {
      animation: false, maintainAspectRatio: false,
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtNum(c.parsed.y)}` } } },
      scales: { y: { beginAtZero: true, title: { display: true, text: yTitle }, ticks: { callback: (v) => fmtNum(v) } } },
    },
  });
}

// A select of options [{value, label}] calling onchange(value); its name is the label.
export function picker(label, options, value, onchange) {
  const s = el('select', { name: label, onchange: () => onchange(s.value) },
    options.map((o) => el('option', { value: o.value, selected: o.value === value }, o.label)));
  return el('label', { class: 'picker' }, `${label} `, s);
}

// The learning curves' x axis: 'step' or 'time' (since each trial started).
export function xAxisPicker(onchange) {
  return picker('x axis', [{ value: 'step', label: 'step' }, { value: 'time', label: 'time' }], 'step', onchange);
}
