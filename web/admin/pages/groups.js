// Taste groups: the latest snapshot's figures, its users in a 2-D picture coloured by group,
// and a card per group (what it likes more than everyone else, its tokens, its core users).
import { gql } from '../api.js';
import { scatter } from '../charts.js';
import { append, colourOf, figure, fmt, h, thumbnail, when } from '../dom.js';
import { tasteClassesWords } from '../taste-classes.js';

const ITEM = 'externalId url prompt';
const QUERY = `{
  tasteGroups {
    id k kChosenBy silhouette silhouetteSample daviesBouldin calinskiHarabasz stability users model trigger createdAt
    modelVersion { version tasteClasses { found served chosenBy users } }
    embeddingSeconds clusteringSeconds
    kTried { k silhouette }
    groups {
      id ordinal size
      likedItems { item { ${ITEM} } lift users }
      dislikedItems { item { ${ITEM} } lift users }
      preferenceTokens { token activation }
      representatives { externalId }
    }
    points(first: 5000) { externalId group x y }
  }
}`;

export async function renderGroups(view) {
  const { tasteGroups: snap } = await gql(QUERY);
  const found = snap && tasteClassesWords(snap);
  const status = h('span', { class: 'muted', role: 'status' });
  /** A button that groups the users again now, with the admin's k or by silhouette. */
  const regroup = (label, action, k) => {
    const button = h('button', { type: 'button', 'data-action': action, class: k ? 'secondary' : undefined }, label);
    button.addEventListener('click', async () => {
      button.disabled = true;
      status.textContent = ' computing…';
      try {
        await gql(k ? `mutation { refreshTasteGroups(k: ${k}) { id } }` : 'mutation { refreshTasteGroups { id } }');
        view.replaceChildren();
        await renderGroups(view);
      } catch (error) {
        status.textContent = ` ${error.message}`;
        button.disabled = false;
      }
    });
    return button;
  };
  // Silhouette's k and the model's count can differ (docs/taste-groups.md): offer the other one.
  const byModel = found?.count && found.count !== snap.k ? regroup(`Group into ${found.count}, the model's count`, 'regroup-found', found.count) : null;
  append(view, h('div', { class: 'card' }, h('h2', {}, 'Taste groups'), regroup('Group users again now', 'refresh'), ' ', byModel, status));
  if (!snap) {
    append(view, h('p', { 'data-empty': 'groups' }, 'No taste groups yet. They are computed after each model promotion and hourly when users change; or group your users now.'));
    return;
  }
  const ordinalOf = new Map(snap.groups.map((g) => [g.id, g.ordinal]));
  append(view, 
    h('div', { class: 'figures', 'data-section': 'quality' },
      figure('groups (k)', `${snap.k} (${snap.kChosenBy === 'ADMIN' ? 'given' : 'by silhouette'})`),
      figure('users grouped', snap.users.toLocaleString()),
      figure('silhouette ↑', fmt(snap.silhouette)),
      figure('Davies–Bouldin ↓', fmt(snap.daviesBouldin)),
      figure('Calinski–Harabasz ↑', fmt(snap.calinskiHarabasz, 1)),
      figure('stability (ARI vs previous)', fmt(snap.stability)),
      figure('groups the model found', found.figure),
    ),
    h('p', { class: found.warning ? 'error' : 'muted', 'data-section': 'taste-classes' }, found.note),
    h('p', { class: 'muted' }, `Snapshot of ${when(snap.createdAt)} by model ${snap.model} (${snap.trigger.toLowerCase()}); representations ${fmt(snap.embeddingSeconds, 1)} s, clustering ${fmt(snap.clusteringSeconds, 1)} s; silhouette on ${snap.silhouetteSample.toLocaleString()} users. ` +
      (snap.kTried.length ? `k tried: ${snap.kTried.map((t) => `${t.k} → ${fmt(t.silhouette, 2)}`).join(', ')}.` : '')),
  );
  const picture = h('div', { class: 'card' }, h('h2', {}, `Users by taste (${snap.points.length.toLocaleString()} of ${snap.users.toLocaleString()} shown; first two principal components)`),
    scatter(snap.points, (id) => ordinalOf.get(id), (externalId) => (location.hash = `#/user/${encodeURIComponent(externalId)}`)));
  const cards = h('div', { class: 'grid' }, snap.groups.map((g) => groupCard(g)));
  append(view, picture, cards);
}

function groupCard(g) {
  const items = (list) => (list.length ? h('div', { class: 'thumbs' }, list.map((l) => h('figure', { style: 'margin:0', title: `lift ${fmt(l.lift, 2)}, ${l.users} users` }, thumbnail(l.item)))) : h('p', { class: 'muted' }, 'none stands out'));
  return h('div', { class: 'card', 'data-group': g.ordinal },
    h('h3', {}, h('span', { class: 'swatch', style: `background:${colourOf(g.ordinal)}` }), `Group ${g.ordinal} · ${g.size.toLocaleString()} users`),
    h('p', { class: 'muted' }, 'Likes more than everyone else'), items(g.likedItems.slice(0, 8)),
    h('p', { class: 'muted' }, 'Dislikes more than everyone else'), items(g.dislikedItems.slice(0, 8)),
    g.preferenceTokens.length ? h('p', {}, 'Dominant tokens: ', g.preferenceTokens.map((t) => `#${t.token} (${fmt(t.activation, 2)})`).join(', ')) : null,
    h('p', {}, 'Core users: ', g.representatives.map((u, i) => [i ? ', ' : '', h('a', { href: `#/user/${encodeURIComponent(u.externalId)}` }, u.externalId)])),
  );
}
