// The experiments page: every experiment of the store, filtered and sorted, kept current.
import { archivedBadge, el, fmtDuration, fmtNum, fmtTime, follow, getJSON, metricLabel, sortableTable, stateBadge } from './dom.js';

export function experimentsPage(main) {
  document.title = 'Experiments · llmtune';
  const filter = el('input', { type: 'search', placeholder: 'filter by name or description', id: 'filter' });
  const states = el('select', { id: 'state-filter' },
    ['all states', 'ACTIVE', 'PAUSED', 'COMPLETED', 'ERROR', 'CANCELED'].map((s) => el('option', { value: s }, s)));
  const table = sortableTable([
    { label: 'id', value: (e) => e.id, cell: (e) => String(e.id), num: true },
    { label: 'name', value: (e) => e.name, cell: (e) => el('span', {}, el('a', { href: `/experiments/${e.id}` }, e.name), e.archived ? [' ', archivedBadge()] : []) },
    { label: 'state', value: (e) => e.state, cell: (e) => stateBadge(e.state) },
    { label: 'searcher', value: (e) => e.searcher.name, cell: (e) => `${e.searcher.name} · ${metricLabel(e.searcher)}` },
    { label: 'trials done', value: (e) => e.trials_done / Math.max(1, e.trials_total), cell: (e) => `${e.trials_done}/${e.trials_total}`, num: true },
    { label: 'best', value: (e) => e.best?.value, cell: (e) => e.best ? `${fmtNum(e.best.value)} (trial ${e.best.trial_id})` : '–', num: true },
    { label: 'duration', value: (e) => e.duration, cell: (e) => fmtDuration(e.duration), num: true },
    { label: 'started', value: (e) => e.start_time, cell: (e) => fmtTime(e.start_time) },
  ], { sortBy: 0, descending: true, rowKey: (e) => e.id });
  // Archived experiments are hidden unless asked for, as `llmtune experiment list` hides them
  // without --all.
  const archived = el('input', { type: 'checkbox', id: 'archived-filter' });
  const count = el('p', { class: 'muted' });
  main.replaceChildren(el('h1', {}, 'Experiments'),
    el('div', { class: 'toolbar' }, filter, states,
      el('label', { for: 'archived-filter' }, archived, ' show archived'), count), table.table);

  let all = [];
  const show = () => {
    const q = filter.value.trim().toLowerCase();
    const rows = all.filter((e) => (states.value === 'all states' || e.state === states.value) &&
      (archived.checked || !e.archived) &&
      (!q || `${e.name} ${e.description}`.toLowerCase().includes(q)));
    table.setRows(rows);
    const hidden = archived.checked ? 0 : all.filter((e) => e.archived).length;
    count.textContent = `${rows.length} of ${all.length} experiment(s)` +
      (hidden ? `, ${hidden} archived hidden` : '');
  };
  filter.addEventListener('input', show);
  states.addEventListener('change', show);
  archived.addEventListener('change', show);
  follow(async () => {
    try {
      all = await getJSON('/api/experiments');
    } catch (e) {
      count.textContent = `cannot read the experiments: ${e.message || e} (trying again)`;
      count.className = 'error';
      return;
    }
    count.className = 'muted';
    show();
    document.body.dataset.ready = '1';
  }, 3000, () => true, () => all.some((e) => e.state === 'ACTIVE'));
}
