// DOM and formatting helpers. Every string from the store enters the page as text (append,
// textContent), never as HTML, so an experiment named <script> shows as those characters.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

export function fmtNum(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

export function fmtDuration(sec) {
  if (typeof sec !== 'number' || !(sec > 0)) return '–';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return h ? `${h}h ${two(m)}m` : m ? `${m}m ${two(r)}s` : `${r}s`;
}

export function fmtTime(unix) {
  if (!(unix > 0)) return '–';
  const d = new Date(unix * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export function fmtValue(v) {
  if (typeof v === 'number') return fmtNum(v);
  if (v === null || v === undefined) return '–';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function stateBadge(state) {
  const s = String(state);
  return el('span', { class: `state state-${s.toLowerCase().replace(/[^a-z]/g, '')}` }, s);
}

// Marks an archived experiment (`llmtune experiment archive ID`).
export function archivedBadge() {
  return el('span', { class: 'state state-archived' }, 'archived');
}

// "eval_loss ↓" for a searcher metric.
export function metricLabel(searcher) {
  return `${searcher.metric} ${searcher.smaller_is_better ? '↓' : '↑'}`;
}

export function showError(container, err) {
  container.replaceChildren(el('p', { class: 'error' }, String(err.message || err)));
}

export function section(title, ...children) {
  return el('section', {}, el('h2', {}, title), ...children);
}

// Calls `fn` now and then every `ms` while `again()` holds, never two at once; the badge in the
// header says when the page is following a running experiment (`live()`, by default again()).
export function follow(fn, ms, again, live = again) {
  const badge = document.getElementById('live');
  let timer = null;
  const tick = async () => {
    try {
      await fn();
    } catch (e) {
      console.error(e);
    }
    badge.hidden = !live();
    if (again()) timer = setTimeout(tick, ms);
  };
  tick();
  return { stop: () => clearTimeout(timer) };
}

// Follows a run's page: `refresh()` loads it and returns the run's state, again every 2 s while
// that is ACTIVE (and until a first load succeeds, whose error replaces the page meanwhile).
export function followRun(main, refresh) {
  let state = null;
  follow(async () => {
    try {
      state = await refresh();
    } catch (e) {
      if (state === null) showError(main, e);
      throw e;
    }
  }, 2000, () => state === null || state === 'ACTIVE', () => state === 'ACTIVE');
}

// A table whose header cells sort it. columns: [{label, value(row) -> sort key, cell(row) ->
// Node|string, num}]; setRows() re-renders in the current order (live pages call it again).
export function sortableTable(columns, { sortBy = 0, descending = false, rowKey } = {}) {
  const table = el('table', { class: 'grid' });
  const head = el('tr');
  const body = el('tbody');
  let rows = [];
  let col = sortBy, desc = descending;
  const render = () => {
    const c = columns[col];
    const sorted = [...rows].sort((a, b) => compare(c.value(a), c.value(b)) * (desc ? -1 : 1));
    body.replaceChildren(...sorted.map((r) => el('tr', { dataset: rowKey ? { key: rowKey(r) } : {} },
      columns.map((cc) => el('td', { class: cc.num ? 'num' : '' }, cc.cell(r))))));
    [...head.children].forEach((th, i) => {
      th.dataset.sort = i === col ? (desc ? 'desc' : 'asc') : '';
    });
  };
  columns.forEach((c, i) => {
    head.append(el('th', {
      class: c.num ? 'num' : '',
      title: c.value ? 'sort' : '',
      onclick: c.value ? () => { desc = i === col ? !desc : false; col = i; render(); } : null,
    }, c.label));
  });
  table.append(el('thead', {}, head), body);
  return { table, setRows(r) { rows = r; render(); } };
}

function compare(a, b) {
  const missing = (v) => v === null || v === undefined || (typeof v === 'number' && isNaN(v));
  if (missing(a) || missing(b)) return missing(a) - missing(b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

// A JSON value as YAML-like text, for a config the store kept when its file is gone.
export function toYaml(value, indent = '') {
  if (value === null || typeof value !== 'object') return scalar(value);
  const lines = [];
  const entries = Array.isArray(value) ? value.map((v) => ['-', v]) : Object.entries(value);
  for (const [k, v] of entries) {
    const key = Array.isArray(value) ? '-' : `${k}:`;
    if (v !== null && typeof v === 'object' && Object.keys(v).length) {
      lines.push(`${indent}${key}`, toYaml(v, indent + '  '));
    } else {
      lines.push(`${indent}${key} ${v !== null && typeof v === 'object' ? (Array.isArray(v) ? '[]' : '{}') : scalar(v)}`);
    }
  }
  return lines.join('\n');
}

function scalar(v) {
  if (typeof v !== 'string') return JSON.stringify(v);
  return /^[\w./@+-][\w ./@+-]*$/.test(v) && !/^(true|false|null|yes|no|~|[-+]?[\d.]+(e[-+]?\d+)?)$/i.test(v)
    ? v : JSON.stringify(v);
}

// Hyperparameter keys whose values differ between trials (all keys when none differ).
export function varyingKeys(trials) {
  const keys = new Set(trials.flatMap((t) => Object.keys(t.hparams || {})));
  const varying = [...keys].filter((k) =>
    new Set(trials.map((t) => JSON.stringify(t.hparams?.[k]))).size > 1);
  return varying.sort();
}
