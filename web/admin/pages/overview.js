// Overview: how big the tenant is, how its users have been rating, and what scores them.
import { gql } from '../api.js';
import { activityChart } from '../charts.js';
import { append, figure, h } from '../dom.js';

const QUERY = `{
  tenant {
    name slug embeddingDim
    counts { users items interactions likes dislikes }
    activity(days: 30) { day likes dislikes newUsers }
    scoringModel { kind modelVersion reason }
  }
}`;

export async function renderOverview(view) {
  const { tenant } = await gql(QUERY);
  const c = tenant.counts;
  const likeRate = c.interactions ? `${((100 * c.likes) / c.interactions).toFixed(1)}%` : '—';
  const model = tenant.scoringModel;
  append(view, 
    h('div', { class: 'figures', 'data-section': 'counts' },
      figure('users', c.users.toLocaleString()),
      figure('items', c.items.toLocaleString()),
      figure('likes', c.likes.toLocaleString()),
      figure('dislikes', c.dislikes.toLocaleString()),
      figure('like rate', likeRate),
      figure('scored by', model.kind === 'FALLBACK' ? 'the fallback' : model.kind === 'TENANT' ? `own model v${model.modelVersion}` : `base model (${model.modelVersion})`),
    ),
    model.reason ? h('p', { class: 'muted' }, model.reason) : null,
    h('div', { class: 'card' }, h('h2', {}, 'Likes and dislikes per day, last 30 days (UTC)'), activityChart(tenant.activity),
      h('p', { class: 'muted' }, h('span', { class: 'swatch', style: 'background:#2f9e44' }), 'likes ', h('span', { class: 'swatch', style: 'background:#e8590c' }), 'dislikes')),
  );
}
