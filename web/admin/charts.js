// Charts drawn as SVG by hand: no chart library, so the page works offline and loads nothing
// from anywhere but this server.
import { s, colourOf } from './dom.js';

/** Likes and dislikes per day as stacked bars. */
export function activityChart(days, width = 860, height = 180) {
  const pad = { left: 40, right: 10, top: 10, bottom: 28 };
  const max = Math.max(1, ...days.map((d) => d.likes + d.dislikes));
  const w = (width - pad.left - pad.right) / Math.max(days.length, 1);
  const y = (v) => pad.top + (height - pad.top - pad.bottom) * (1 - v / max);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': 'likes and dislikes per day', 'data-chart': 'activity' });
  svg.append(s('text', { x: 4, y: y(max) + 4 }, String(max)), s('text', { x: 4, y: y(0) }, '0'));
  days.forEach((d, i) => {
    const x = pad.left + i * w;
    svg.append(
      s('rect', { x: x + 1, y: y(d.likes), width: Math.max(w - 2, 1), height: y(0) - y(d.likes), fill: '#2f9e44' }, s('title', {}, `${d.day}: ${d.likes} likes`)),
      s('rect', { x: x + 1, y: y(d.likes + d.dislikes), width: Math.max(w - 2, 1), height: y(d.likes) - y(d.likes + d.dislikes), fill: '#e8590c' }, s('title', {}, `${d.day}: ${d.dislikes} dislikes`)),
    );
    if (i % Math.ceil(days.length / 8) === 0) svg.append(s('text', { x, y: height - 8 }, d.day.slice(5)));
  });
  return svg;
}

/** Users as points on the snapshot's 2-D projection, one circle per user, coloured by group. */
export function scatter(points, ordinalOf, onPick, width = 620, height = 460) {
  const pad = 16;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (v) => pad + ((v - x0) / (x1 - x0 || 1)) * (width - 2 * pad);
  const sy = (v) => height - pad - ((v - y0) / (y1 - y0 || 1)) * (height - 2 * pad);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': 'users by taste, coloured by group', 'data-chart': 'scatter' });
  svg.append(s('rect', { x: 0, y: 0, width, height, fill: '#fff' }));
  for (const p of points) {
    const ordinal = ordinalOf(p.group);
    const dot = s('circle', { cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 3.5, fill: colourOf(ordinal), 'fill-opacity': 0.75, 'data-user': p.externalId, 'data-group': ordinal }, s('title', {}, `${p.externalId} (group ${ordinal})`));
    dot.addEventListener('click', () => onPick(p.externalId));
    svg.append(dot);
  }
  return svg;
}

/** Horizontal bars for values in [0, 1] (token activations). */
export function bars(values, label = (i) => `token ${i}`) {
  const width = 360;
  const row = 18;
  const svg = s('svg', { viewBox: `0 0 ${width} ${values.length * row}`, width: '100%', role: 'img', 'aria-label': 'preference token activations', 'data-chart': 'tokens' });
  values.forEach((v, i) => {
    svg.append(
      s('text', { x: 0, y: i * row + 12 }, label(i)),
      s('rect', { x: 70, y: i * row + 4, width: Math.max(0, v) * (width - 120), height: 10, fill: '#3b5bdb' }),
      s('text', { x: 74 + Math.max(0, v) * (width - 120), y: i * row + 12 }, v.toFixed(2)),
    );
  });
  return svg;
}
