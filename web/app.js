// The dashboard's router: every page is this one shell, and the path picks what it shows.
import { comparePage } from './compare.js';
import { el, showError } from './dom.js';
import { experimentPage } from './experiment.js';
import { experimentsPage } from './experiments.js';
import { trialPage } from './trial.js';

const main = document.getElementById('main');
const path = window.location.pathname;
let m;
try {
  if (path === '/') experimentsPage(main);
  else if ((m = path.match(/^\/experiments\/(\d+)$/))) experimentPage(main, m[1]);
  else if ((m = path.match(/^\/trials\/(\d+)$/))) trialPage(main, m[1]);
  else if (path === '/compare') comparePage(main, new URLSearchParams(window.location.search)).catch((e) => showError(main, e));
  else main.replaceChildren(el('p', { class: 'error' }, `No page ${path}`));
} catch (e) {
  showError(main, e);
}
