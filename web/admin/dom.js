// Small DOM helpers. Tenant data (ids, urls, prompts) only ever goes into text nodes and
// attributes, never into HTML, so nothing a tenant stores can run as script here.
const SVG = 'http://www.w3.org/2000/svg';

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  return fill(el, attrs, children);
}

/** Appends children as h() does: text as text nodes, and nothing for null, undefined or false. */
export function append(parent, ...children) {
  return fill(parent, {}, children);
}

function fill(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const fmt = (x, digits = 3) => (x === null || x === undefined ? '—' : Number(x).toFixed(digits));
export const when = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');

/** One colour per group, distinguishable, the same on every page. */
const PALETTE = ['#3b5bdb', '#e8590c', '#2f9e44', '#c2255c', '#7048e8', '#0c8599', '#f08c00', '#5c940d', '#a61e4d', '#1971c2', '#862e9c', '#d9480f'];
export const colourOf = (ordinal) => PALETTE[(ordinal - 1) % PALETTE.length];

/** An item's picture from its url (the tenant's images), or its id when it has none or it fails to load. */
export function thumbnail(item) {
  const label = item.prompt ? `${item.externalId}: ${item.prompt}` : item.externalId;
  if (!item.url) return h('span', { class: 'thumb', title: label }, item.externalId);
  const img = h('img', { class: 'thumb', src: item.url, alt: label, title: label, referrerpolicy: 'no-referrer' });
  img.addEventListener('error', () => img.replaceWith(h('span', { class: 'thumb', title: label }, item.externalId)));
  return img;
}

export function figure(label, value) {
  return h('div', { class: 'figure' }, h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));
}
