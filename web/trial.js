// A trial's page: its hyperparameters, curves, checkpoints (metrics, paths and the commands that
// use them), restarts and log, kept current while it runs.
import { CurveGrid, MetricRows, xAxisPicker } from './charts.js';
import {
  el, fmtDuration, fmtNum, fmtTime, fmtValue, followRun, getJSON, section, sortableTable, stateBadge,
} from './dom.js';
import { fact } from './experiment.js';

export function trialPage(main, id) {
  const rows = new MetricRows();
  const grid = new CurveGrid();
  const view = { trial: null, xMode: 'step', table: null };
  const header = el('div');
  const ckpts = el('div');
  const restarts = el('div', { id: 'restarts' });
  const log = el('pre', { class: 'log', id: 'trial-log' });
  const logNote = el('p', { class: 'muted' });
  const xPick = xAxisPicker((v) => { view.xMode = v; draw(); });
  main.replaceChildren(header,
    section('Learning curves', el('div', { class: 'toolbar' }, xPick), grid.node),
    section('Checkpoints', ckpts), section('Restarts', restarts), section('Log', logNote, log));
  const draw = () => grid.update(rows, [{ id: view.trial.id, label: `trial ${view.trial.id}`, start_time: view.trial.start_time }], view.xMode);

  const refresh = async () => {
    const [trial] = await Promise.all([getJSON(`/api/trials/${id}`), rows.fetch(getJSON, `/api/trials/${id}/metrics`)]);
    const first = !view.trial;
    view.trial = trial;
    if (first) document.title = `Trial ${trial.id} · llmtune`;
    header.replaceChildren(headerView(trial));
    if (!view.table) {
      view.table = checkpointsTable(trial);
      ckpts.replaceChildren(view.table.table);
    }
    view.table.setRows(trial.checkpoints);
    draw();
    const text = await logText(trial, logNote);
    log.textContent = text;
    restarts.replaceChildren(restartsView(trial, text));
    document.body.dataset.ready = '1';
    return trial.state;
  };
  followRun(main, refresh);
}

function headerView(t) {
  const e = t.experiment;
  return el('div', { class: 'page-head' },
    el('p', { class: 'crumbs' }, el('a', { href: '/' }, 'Experiments'), ' › ',
      el('a', { href: `/experiments/${e.id}`, id: 'experiment-link' }, e.name), ` › trial ${t.id}`),
    el('h1', {}, `Trial ${t.id} `, stateBadge(t.state)),
    el('dl', { class: 'facts' },
      fact('steps', `${t.steps_completed}${t.max_steps ? `/${t.max_steps}` : ''}`),
      fact('restarts', String(t.restarts)),
      fact(`best ${e.searcher.metric}`, t.best ? `${fmtNum(t.best.value)} at step ${t.best.step}` : '–'),
      fact('train loss', fmtNum(t.final_training?.train_loss ?? t.final_training?.loss)),
      fact('started', fmtTime(t.start_time)),
      fact('duration', fmtDuration(t.duration))),
    el('details', { class: 'hparams' }, el('summary', {}, 'Hyperparameters'),
      el('table', { class: 'grid kv' }, Object.entries(t.hparams).map(([k, v]) =>
        el('tr', {}, el('th', {}, k), el('td', {}, fmtValue(v)))))),
    t.directory ? el('p', { class: 'muted' }, 'Files: ', el('code', {}, t.directory),
      t.tensorboard ? [' · TensorBoard: ', el('code', {}, t.tensorboard)] : null) : null);
}

function checkpointsTable(t) {
  const keys = [...new Set(t.checkpoints.flatMap((c) => Object.keys(c.metrics || {})))].sort();
  return sortableTable([
    { label: 'step', value: (c) => c.step, cell: (c) => String(c.step), num: true },
    { label: 'state', value: (c) => c.state, cell: (c) => stateBadge(c.state) },
    ...keys.map((k) => ({ label: k, value: (c) => c.metrics?.[k], cell: (c) => fmtNum(c.metrics?.[k]), num: true })),
    { label: 'path and commands', cell: (c) => el('div', { class: 'commands' },
      el('code', {}, c.path),
      Object.entries(c.commands || {}).map(([name, cmd]) => el('div', {}, el('span', { class: 'muted' }, `${name}: `), el('code', {}, cmd)))) },
  ], { sortBy: 0, rowKey: (c) => c.uuid });
}

async function logText(trial, note) {
  if (!trial.log.exists) {
    note.textContent = trial.log.path ? `No log at ${trial.log.path} (trials that \`llmtune experiment create\` runs write one).` :
      'No log: this trial was recorded without its directory.';
    return '';
  }
  try {
    const log = await getJSON(`/api/trials/${trial.id}/log`);
    note.textContent = `${log.path}${log.truncated ? ' (its last 256 KiB)' : ''}`;
    // A progress bar redraws its line with \r: keep what the terminal would show.
    return log.text.split('\n').map((l) => l.slice(l.lastIndexOf('\r') + 1)).join('\n');
  } catch (e) {
    note.textContent = String(e.message || e);
    return '';
  }
}

function restartsView(t, log) {
  const lines = log.split('\n').filter((l) => /restart|resuming from|died|killed/i.test(l));
  return el('div', {},
    el('p', {}, t.restarts ? `Restarted ${t.restarts} time(s) from its last checkpoint.` : 'Not restarted.'),
    lines.length ? el('pre', { class: 'log short' }, lines.join('\n')) : null);
}
