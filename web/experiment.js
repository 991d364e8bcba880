// An experiment's page: its config, its trials (sortable, selectable for comparison), the
// learning curves of every metric with one line per trial, and hyperparameters against a metric.
import { CurveGrid, MetricRows, colorFor, picker, scatterChart, xAxisPicker } from './charts.js';
import {
  archivedBadge, el, fmtDuration, fmtNum, fmtTime, fmtValue, followRun, getJSON, metricLabel,
  section, sortableTable, stateBadge, toYaml, varyingKeys,
} from './dom.js';

export function experimentPage(main, id) {
  const rows = new MetricRows();
  const grid = new CurveGrid();
  const selected = new Set();
  const view = { xMode: 'step', exp: null, table: null, scatter: null, hp: null, metric: null };
  const header = el('div');
  const trials = el('div');
  const hpBox = el('div');
  const compare = el('a', { class: 'button', href: '/compare' }, 'Compare selected trials');
  const xPick = xAxisPicker((v) => { view.xMode = v; drawCurves(); });
  const config = el('div');
  main.replaceChildren(header,
    section('Trials', el('div', { class: 'toolbar' }, compare), trials),
    section('Learning curves', el('div', { class: 'toolbar' }, xPick), grid.node),
    section('Hyperparameters against a metric', hpBox),
    section('Config', config));

  const trialInfo = () => view.exp.trials.map((t, i) => ({ id: t.id, label: `trial ${t.id}`, start_time: t.start_time, color: i }));
  const drawCurves = () => grid.update(rows, trialInfo(), view.xMode);
  const updateCompare = () => {
    const ids = [...selected].sort((a, b) => a - b);
    compare.setAttribute('href', `/compare?trials=${(ids.length ? ids : view.exp.trials.map((t) => t.id)).join(',')}`);
    compare.textContent = ids.length ? `Compare ${ids.length} selected trial(s)` : 'Compare all trials';
  };

  const refresh = async () => {
    const [exp] = await Promise.all([getJSON(`/api/experiments/${id}`), rows.fetch(getJSON, `/api/experiments/${id}/metrics`)]);
    const first = !view.exp;
    view.exp = exp;
    if (first) {
      document.title = `${exp.name} · llmtune`;
      config.replaceChildren(configView(exp.config));
      view.table = trialsTable(exp, selected, updateCompare);
      trials.replaceChildren(view.table.table);
    }
    header.replaceChildren(headerView(exp));
    view.table.setRows(exp.trials);
    updateCompare();
    drawCurves();
    drawScatter();
    document.body.dataset.ready = '1';
    return exp.state;
  };

  const drawScatter = () => {
    const exp = view.exp;
    const keys = varyingKeys(exp.trials);
    const hpKeys = keys.length ? keys : Object.keys(exp.trials[0]?.hparams || {}).sort();
    const metrics = [`best ${exp.searcher.metric}`, ...new Set(exp.trials.flatMap((t) =>
      [...Object.keys(t.final_validation || {}).map((k) => `final validation ${k}`),
        ...Object.keys(t.final_training || {}).map((k) => `final training ${k}`)]))];
    if (!hpKeys.length) return hpBox.replaceChildren(el('p', { class: 'muted' }, 'No trials yet.'));
    if (!hpKeys.includes(view.hp)) view.hp = hpKeys[0];
    if (!metrics.includes(view.metric)) view.metric = metrics[0];
    const canvas = el('canvas', { id: 'hp-scatter' });
    hpBox.replaceChildren(el('div', { class: 'toolbar' },
      picker('hyperparameter', hpKeys.map((k) => ({ value: k, label: k })), view.hp, (v) => { view.hp = v; drawScatter(); }),
      picker('metric', metrics.map((m) => ({ value: m, label: m })), view.metric, (v) => { view.metric = v; drawScatter(); })),
    el('div', { class: 'canvas-box wide' }, canvas));
    const value = (t) => {
      if (view.metric.startsWith('best ')) return t.best?.value;
      const [, group, key] = view.metric.split(' ');
      return (group === 'validation' ? t.final_validation : t.final_training)?.[key];
    };
    const xs = exp.trials.map((t) => t.hparams[view.hp]);
    const categorical = xs.some((x) => typeof x !== 'number');
    const categories = categorical ? [...new Set(xs.map((x) => fmtValue(x)))].sort() : null;
    const points = exp.trials.map((t, i) => ({
      label: `trial ${t.id}`, color: colorFor(i), y: value(t),
      x: categorical ? categories.indexOf(fmtValue(xs[i])) : xs[i],
    })).filter((p) => typeof p.y === 'number');
    view.scatter = scatterChart(canvas, view.scatter, points, view.hp, view.metric, categories);
  };

  followRun(main, refresh);
}

function headerView(exp) {
  return el('div', { class: 'page-head' },
    el('p', { class: 'crumbs' }, el('a', { href: '/' }, 'Experiments'), ` › experiment ${exp.id}`),
    el('h1', {}, exp.name, ' ', stateBadge(exp.state), exp.archived ? [' ', archivedBadge()] : []),
    exp.description ? el('p', {}, exp.description) : null,
    el('dl', { class: 'facts' },
      fact('searcher', `${exp.searcher.name}, ${metricLabel(exp.searcher)}`),
      fact('trials done', `${exp.trials_done}/${exp.trials_total}`),
      fact(`best ${exp.searcher.metric}`, exp.best ? `${fmtNum(exp.best.value)} (trial ${exp.best.trial_id}, step ${exp.best.step})` : '–'),
      fact('started', fmtTime(exp.start_time)),
      fact('duration', fmtDuration(exp.duration))));
}

export function fact(term, value) {
  return el('div', {}, el('dt', {}, term), el('dd', {}, value));
}

function trialsTable(exp, selected, onSelect) {
  const hps = varyingKeys(exp.trials);
  const metric = exp.searcher.metric;
  return sortableTable([
    { label: '', cell: (t) => el('input', { type: 'checkbox', title: 'compare', checked: selected.has(t.id),
      onchange: (ev) => { ev.target.checked ? selected.add(t.id) : selected.delete(t.id); onSelect(); } }) },
    { label: 'trial', value: (t) => t.id, cell: (t) => el('a', { href: `/trials/${t.id}`, class: 'trial-link' }, `trial ${t.id}`), num: true },
    { label: 'state', value: (t) => t.state, cell: (t) => stateBadge(t.state) },
    ...hps.map((k) => ({ label: k, value: (t) => t.hparams[k], cell: (t) => fmtValue(t.hparams[k]) })),
    { label: 'steps', value: (t) => t.steps_completed, cell: (t) => `${t.steps_completed}${t.max_steps ? `/${t.max_steps}` : ''}`, num: true },
    { label: 'restarts', value: (t) => t.restarts, cell: (t) => String(t.restarts), num: true },
    { label: 'searcher', value: (t) => t.searcher_state, cell: (t) => t.searcher_state ? `${t.searcher_state} @rung ${t.rung}` : '–' },
    { label: `best ${metric}`, value: (t) => t.best?.value, cell: (t) => t.best ? `${fmtNum(t.best.value)} @${t.best.step}` : '–', num: true },
    { label: 'train loss', value: (t) => t.final_training?.loss, cell: (t) => fmtNum(t.final_training?.loss), num: true },
    { label: 'checkpoints', value: (t) => t.checkpoints.length,
      cell: (t) => el('span', { title: t.checkpoints.map((c) => c.path).join('\n') }, t.checkpoints.filter((c) => c.state === 'COMPLETED').map((c) => c.step).join(', ') || '–') },
    { label: 'duration', value: (t) => t.duration, cell: (t) => fmtDuration(t.duration), num: true },
  ], { sortBy: 1, rowKey: (t) => t.id });
}

function configView(config) {
  const stored = el('pre', { class: 'code' }, toYaml(config.stored));
  if (config.source === 'file') {
    return el('div', {},
      el('p', { class: 'muted' }, 'The file as written, ', el('code', {}, config.path),
        ' (as it reads now; the run used it with its --set overrides, below).'),
      el('pre', { class: 'code', id: 'config-text' }, config.text),
      el('details', {}, el('summary', {}, 'The config as stored with the experiment'), stored));
  }
  return el('div', {},
    el('p', { class: 'muted' }, `The config as stored with the experiment (the file ${config.path || ''} cannot be shown: ${config.note}).`),
    stored);
}
