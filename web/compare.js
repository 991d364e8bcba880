// The compare page: any trials side by side (a table with differing hyperparameters marked, and
// their curves overlaid), and LoRA against full finetuning per difficulty: the demo's table
// (demo_summary.json) as a chart, or the compared trials' final validation metrics.
import { CurveGrid, MetricRows, barChart, colorFor, picker, xAxisPicker } from './charts.js';
import { el, fmtDuration, fmtNum, fmtValue, follow, getJSON, section, showError, stateBadge } from './dom.js';

export async function comparePage(main, params) {
  document.title = 'Compare · llmtune';
  const ids = (params.get('trials') || '').split(',').map((s) => s.trim()).filter(Boolean);
  const bars = el('div', { id: 'lora-vs-full' });
  if (!ids.length) {
    main.replaceChildren(el('h1', {}, 'Compare'), section('Choose trials', await chooser()),
      section('LoRA against full finetuning, per difficulty', bars));
    await loraVsFull(bars, []);
    document.body.dataset.ready = '1';
    return;
  }
  const rows = new MetricRows();
  const grid = new CurveGrid();
  const table = el('div', { class: 'scroll' });
  let trials = [];
  let xMode = 'step';
  main.replaceChildren(el('h1', {}, `Compare ${ids.length} trial(s)`), section('Side by side', table),
    section('Learning curves', el('div', { class: 'toolbar' }, xAxisPicker((v) => { xMode = v; draw(); })), grid.node),
    section('LoRA against full finetuning, per difficulty', bars));
  const info = () => trials.map((t, i) => ({ id: t.id, label: `trial ${t.id} (${t.experiment.name})`, start_time: t.start_time, color: i }));
  const draw = () => grid.update(rows, info(), xMode);
  let first = true;
  follow(async () => {
    try {
      trials = await Promise.all(ids.map((id) => getJSON(`/api/trials/${encodeURIComponent(id)}`)));
      for (const t of trials) await rows.fetch(getJSON, `/api/trials/${t.id}/metrics`);
    } catch (e) {
      showError(main, e);
      throw e;
    }
    table.replaceChildren(sideBySide(trials));
    draw();
    if (first) await loraVsFull(bars, trials);
    first = false;
    document.body.dataset.ready = '1';
  }, 2000, () => trials.length === 0 || trials.some((t) => t.state === 'ACTIVE'));
}

// Experiments with their trials as checkboxes, and a button that compares the checked ones.
async function chooser() {
  const box = el('div');
  const go = el('a', { class: 'button', href: '/compare' }, 'Compare');
  const checked = new Set();
  const update = () => go.setAttribute('href', `/compare?trials=${[...checked].join(',')}`);
  const experiments = await getJSON('/api/experiments');
  if (!experiments.length) return el('p', { class: 'muted' }, 'The store has no experiments yet.');
  for (const e of experiments) {
    const list = el('div', { class: 'choices' });
    const details = el('details', {}, el('summary', {}, `${e.name} `, stateBadge(e.state), ` ${e.trials_total} trial(s)`), list);
    details.addEventListener('toggle', async () => {
      if (list.childElementCount) return;
      const exp = await getJSON(`/api/experiments/${e.id}`);
      list.append(...exp.trials.map((t) => el('label', {}, el('input', {
        type: 'checkbox', onchange: (ev) => { ev.target.checked ? checked.add(t.id) : checked.delete(t.id); update(); },
      }), ` trial ${t.id} `, el('span', { class: 'muted' }, Object.entries(t.hparams).filter(([k]) => !k.includes('.')).map(([k, v]) => `${k}=${fmtValue(v)}`).join(' ')))));
    });
    box.append(details);
  }
  return el('div', {}, box, el('div', { class: 'toolbar' }, go));
}

function sideBySide(trials) {
  const keys = [...new Set(trials.flatMap((t) => Object.keys(t.hparams)))].sort();
  const validation = [...new Set(trials.flatMap((t) => Object.keys(t.final_validation || {})))].sort();
  const row = (label, f, differs) => el('tr', { class: differs ? 'differs' : '' }, el('th', {}, label),
    trials.map((t) => el('td', {}, f(t))));
  const differs = (f) => new Set(trials.map((t) => JSON.stringify(f(t) ?? null))).size > 1;
  return el('table', { class: 'grid compare', id: 'compare-table' },
    el('thead', {}, el('tr', {}, el('th', {}, ''), trials.map((t, i) => {
      const th = el('th', { class: 'trial-col' }, el('a', { href: `/trials/${t.id}` }, `trial ${t.id}`));
      th.style.borderTopColor = colorFor(i);  // CSSOM: the CSP refuses style attributes
      return th;
    }))),
    el('tbody', {},
      row('experiment', (t) => el('a', { href: `/experiments/${t.experiment.id}` }, t.experiment.name)),
      row('state', (t) => stateBadge(t.state)),
      keys.map((k) => row(k, (t) => fmtValue(t.hparams[k]), differs((t) => t.hparams[k]))),
      row('steps', (t) => String(t.steps_completed)),
      row('restarts', (t) => String(t.restarts)),
      row('duration', (t) => fmtDuration(t.duration)),
      row('train loss (final)', (t) => fmtNum(t.final_training?.train_loss ?? t.final_training?.loss)),
      row('best (searcher metric)', (t) => t.best ? `${t.experiment.searcher.metric} ${fmtNum(t.best.value)} @${t.best.step}` : '–'),
      validation.map((k) => row(`${k} (final)`, (t) => fmtNum(t.final_validation?.[k]))),
      row('checkpoints', (t) => String(t.checkpoints.filter((c) => c.state === 'COMPLETED').length))));
}

const DEMO_METRICS = [
  { value: 'bleu', label: 'BLEU' }, { value: 'sacrebleu', label: 'sacreBLEU' },
  { value: 'exact_match', label: 'exact match' }, { value: 'execution_accuracy', label: 'execution accuracy' },
  { value: 'train_seconds', label: 'training time (s)' }];

// The demo's table when the runs directory is a demo's; else the compared trials that have
// `lora` and `dataset_subset` hyperparameters, by their final validation metrics.
async function loraVsFull(box, trials) {
  const summary = await getJSON('/api/demo-summary');
  const demo = Array.isArray(summary.rows);
  const table = demo ? summary.rows : fromTrials(trials);
  const source = demo ? `the demo's test-set scores (${summary.path})` : 'the compared trials\' final validation metrics';
  if (!table.length) {
    box.replaceChildren(el('p', { class: 'muted' }, 'Neither a demo summary (demo_summary.json beside the runs directory) nor compared trials with lora and dataset_subset hyperparameters.'));
    return;
  }
  const subsets = [...new Set(table.map((r) => r.subset))];
  const models = [...new Set(table.map((r) => r.model))];
  const metrics = demo ? DEMO_METRICS
    : [...new Set(table.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === 'number')))].map((k) => ({ value: k, label: k }));
  const canvas = el('canvas', { id: 'lora-vs-full-chart' });
  let chart = null;
  const draw = (metric) => {
    chart = barChart(canvas, chart, subsets, models.map((m, i) => ({
      label: m, color: colorFor(i),
      values: subsets.map((s) => table.find((r) => r.subset === s && r.model === m)?.[metric] ?? null),
    })), metrics.find((x) => x.value === metric)?.label || metric);
  };
  const rows = table.map((r) => el('tr', {}, el('td', {}, r.subset), el('td', {}, r.model),
    metrics.map((m) => el('td', { class: 'num' }, fmtNum(r[m.value])))));
  box.replaceChildren(el('p', { class: 'muted' }, `From ${source}.`),
    el('div', { class: 'toolbar' }, picker('metric', metrics, metrics[0].value, draw)),
    el('div', { class: 'canvas-box wide' }, canvas),
    el('table', { class: 'grid', id: 'lora-vs-full-table' }, el('thead', {}, el('tr', {}, el('th', {}, 'subset'), el('th', {}, 'model'),
      metrics.map((m) => el('th', { class: 'num' }, m.label)))), el('tbody', {}, rows)));
  draw(metrics[0].value);
}

function fromTrials(trials) {
  return trials.filter((t) => 'lora' in t.hparams && 'dataset_subset' in t.hparams && t.final_validation)
    .map((t) => ({ subset: String(t.hparams.dataset_subset), model: t.hparams.lora ? 'LoRA' : 'full', ...t.final_validation }));
}
