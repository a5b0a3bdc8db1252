// One user: their history, their group, the users most like them, and their token activations.
import { gql } from '../api.js';
import { bars } from '../charts.js';
import { append, colourOf, fmt, h, thumbnail, when } from '../dom.js';

const ITEM = 'externalId url prompt';
const QUERY = `query User($id: ID!) {
  user(externalId: $id) {
    externalId createdAt
    tasteGroup { id ordinal size }
    tasteProfile { model tokenActivations historySize computedAt }
    history(first: 24) { edges { node { kind current createdAt item { ${ITEM} } } } }
  }
  similarUsers(userId: $id, first: 10) {
    reason model
    edges { node { similarity user { externalId } sharedLikes { count items { ${ITEM} } } } }
  }
}`;

/** A history event: like, dislike or undo; one replaced since (or undone) is marked so. */
function eventLabel(event) {
  if (event.kind === 'CLEAR') return h('span', { class: 'muted' }, 'undo');
  const label = h('span', { style: `color:${event.kind === 'LIKE' ? '#2f9e44' : '#e8590c'}` }, event.kind === 'LIKE' ? 'like' : 'dislike');
  return event.current ? label : [label, h('span', { class: 'muted' }, ' (replaced)')];
}

const LIST = `query Users($after: String) { users(first: 50, after: $after) { edges { node { externalId createdAt } } pageInfo { hasNextPage endCursor } } }`;

export async function renderUser(view, [id]) {
  const search = h('form', { class: 'card', 'data-section': 'search' },
    h('label', {}, 'User id ', h('input', { name: 'id', value: id ?? '', placeholder: 'the id your app uses for the user' })),
    h('button', { type: 'submit' }, 'Show'));
  search.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/user/${encodeURIComponent(new FormData(search).get('id').trim())}`;
  });
  append(view, search);
  if (!id) return listUsers(view);

  const data = await gql(QUERY, { id });
  const u = data.user;
  const profile = u.tasteProfile;
  const history = u.history.edges.map((e) => e.node);
  const similar = data.similarUsers;
  append(view, 
    h('div', { class: 'card', 'data-section': 'profile' },
      h('h2', {}, `User ${u.externalId}`),
      h('p', {}, `First seen ${when(u.createdAt)}. `,
        u.tasteGroup ? [h('span', { class: 'swatch', style: `background:${colourOf(u.tasteGroup.ordinal)}` }), `Taste group ${u.tasteGroup.ordinal} (${u.tasteGroup.size} users)`] : 'Not in a taste group yet.'),
    ),
    h('div', { class: 'row' },
      h('div', { class: 'card', 'data-section': 'history' }, h('h2', {}, 'Latest likes, dislikes and undos'),
        history.length ? h('table', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'item'), h('th', {}, ''), h('th', {}, 'when')),
          history.map((i) => h('tr', {}, h('td', {}, thumbnail(i.item)), h('td', {}, i.item.externalId), h('td', {}, eventLabel(i)), h('td', {}, when(i.createdAt)))))
          : h('p', { class: 'muted' }, 'No likes or dislikes yet.')),
      h('div', {},
        h('div', { class: 'card', 'data-section': 'similar' }, h('h2', {}, 'Most similar users'),
          similar.edges.length
            ? h('table', {}, h('tr', {}, h('th', {}, 'user'), h('th', {}, 'similarity'), h('th', {}, 'both liked')),
              similar.edges.map(({ node }) => h('tr', {},
                h('td', {}, h('a', { href: `#/user/${encodeURIComponent(node.user.externalId)}` }, node.user.externalId)),
                h('td', {}, fmt(node.similarity)),
                h('td', {}, `${node.sharedLikes.count} `, h('span', { class: 'thumbs' }, node.sharedLikes.items.slice(0, 4).map(thumbnail))))))
            : h('p', { class: 'muted' }, similar.reason ?? 'none')),
        h('div', { class: 'card', 'data-section': 'tokens' }, h('h2', {}, 'Preference token activations'),
          profile?.tokenActivations ? [bars(profile.tokenActivations), h('p', { class: 'muted' }, `Model ${profile.model}, from ${profile.historySize} likes and dislikes, ${when(profile.computedAt)}.`)]
            : h('p', { class: 'muted' }, profile ? `Model ${profile.model} has no preference tokens.` : 'Not computed yet (users need 2 likes and 2 dislikes).')),
      ),
    ),
  );
}

async function listUsers(view, after = null) {
  const { users } = await gql(LIST, { after });
  const table = h('table', { 'data-section': 'users' }, h('tr', {}, h('th', {}, 'user'), h('th', {}, 'first seen')),
    users.edges.map(({ node }) => h('tr', {}, h('td', {}, h('a', { href: `#/user/${encodeURIComponent(node.externalId)}` }, node.externalId)), h('td', {}, when(node.createdAt)))));
  const card = h('div', { class: 'card' }, h('h2', {}, 'Users'), table);
  if (users.pageInfo.hasNextPage) {
    const more = h('button', { type: 'button', class: 'secondary' }, 'More');
    more.addEventListener('click', () => {
      card.remove();
      listUsers(view, users.pageInfo.endCursor);
    });
    append(card, more);
  }
  append(view, card);
}
