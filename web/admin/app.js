// The admin dashboard: sign in with an admin key, then four pages over the GraphQL API.
// Routes live in the hash (#/groups, #/user/<id>), so the server serves one static page.
import { gql, key, ApiError } from './api.js';
import { h } from './dom.js';
import { renderOverview } from './pages/overview.js';
import { renderGroups } from './pages/groups.js';
import { renderUser } from './pages/user.js';
import { renderModels } from './pages/models.js';

const main = document.getElementById('main');
const signInForm = document.getElementById('sign-in');
const nav = document.getElementById('nav');

const PAGES = { overview: renderOverview, groups: renderGroups, user: renderUser, models: renderModels };

/** Checks the key with a query only admin keys may make; says plainly why a key is refused. */
async function checkKey(candidate) {
  try {
    const data = await gql('{ tenant { name slug } }', {}, candidate);
    return { tenant: data.tenant };
  } catch (error) {
    if (error instanceof ApiError && error.code === 'FORBIDDEN') return { error: 'This dashboard needs an admin key: the key given is an app key.' };
    if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') return { error: 'This key is not valid (unknown or revoked).' };
    return { error: `Could not sign in: ${error.message}` };
  }
}

function showSignIn(message = '') {
  nav.hidden = true;
  document.getElementById('tenant-name').textContent = '';
  main.replaceChildren(signInForm);
  document.getElementById('sign-in-error').textContent = message;
}

signInForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('key');
  const result = await checkKey(input.value.trim());
  if (result.error) return showSignIn(result.error);
  key.set(input.value.trim());
  input.value = '';
  signedIn(result.tenant);
});

document.getElementById('sign-out').addEventListener('click', () => {
  key.clear();
  showSignIn();
});

let current = 0;
async function route() {
  if (!key.get()) return showSignIn();
  const [, page = 'overview', ...rest] = (location.hash || '#/overview').split('/');
  const render = PAGES[page] ?? renderOverview;
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.getAttribute('href') === `#/${page}`);
  const view = h('div', { 'data-page': page });
  main.replaceChildren(view);
  const token = ++current;
  try {
    // A page may keep refreshing itself (live progress) while it is the one shown.
    await render(view, rest.map(decodeURIComponent), () => token === current);
  } catch (error) {
    if (error instanceof ApiError && (error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN')) return showSignIn('Your key is no longer accepted; sign in again.');
    view.append(h('p', { class: 'error', role: 'alert' }, `Could not load this page: ${error.message}`));
  }
}

function signedIn(tenant) {
  document.getElementById('tenant-name').textContent = `· ${tenant.name}`;
  nav.hidden = false;
  if (!location.hash) location.hash = '#/overview';
  else route();
}

window.addEventListener('hashchange', route);

(async () => {
  const stored = key.get();
  if (!stored) return showSignIn();
  const result = await checkKey(stored);
  if (result.error) {
    key.clear();
    return showSignIn(result.error);
  }
  signedIn(result.tenant);
})();
