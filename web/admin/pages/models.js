// Models: what scores the tenant, its versions with the promotion gate's numbers, and training
// runs, with live progress while one is queued or running: the newest such run is followed
// over WebSocket (trainingRunUpdated), each push and its end drawing the page again; where no
// live connection can be had (a proxy without WebSocket), the page polls every two seconds.
import { gql, subscribe } from '../api.js';
import { append, fmt, h, when } from '../dom.js';
import { tasteClassesWords } from '../taste-classes.js';
import { versionStatusWords } from '../version-status.js';

const QUERY = `{
  tenant { scoringModel { kind modelVersion reason } }
  modelVersions(first: 20) { edges { node {
    version status startedFrom reason createdAt promotedAt promotedBy artifactRemovedAt
    tasteClasses { found served chosenBy users }
    evaluation { historySize heldOutUsers candidate { pairwise top1 } serving { pairwise } globalBaseline { pairwise } globalBaselineKind versusGlobal { mean standardError } }
  } } }
  trainingRuns(first: 10) { edges { node {
    id trigger status stage epoch epochs loss validationAccuracy queuedAt startedAt finishedAt error skipReason
  } } }
}`;

const ACTIVE = new Set(['QUEUED', 'RUNNING']);

export async function renderModels(view, _args, isShown) {
  const data = await gql(QUERY);
  const versions = data.modelVersions.edges.map((e) => e.node);
  const runs = data.trainingRuns.edges.map((e) => e.node);
  const m = data.tenant.scoringModel;
  const train = h('button', { type: 'button', 'data-action': 'train' }, 'Train now');
  const status = h('span', { class: 'muted', role: 'status' });
  train.addEventListener('click', async () => {
    train.disabled = true;
    try {
      await gql('mutation { startTraining { id status } }');
      view.replaceChildren();
      await renderModels(view, _args, isShown);
    } catch (error) {
      status.textContent = ` ${error.message}`;
      train.disabled = false;
    }
  });
  view.replaceChildren(
    h('div', { class: 'card' }, h('h2', {}, 'Scoring now'),
      h('p', {}, m.kind === 'FALLBACK' ? 'The fallback (history centroid). ' : `${m.kind === 'TENANT' ? 'Your own model' : 'The shipped base model'}, version ${m.modelVersion}. `, m.reason ?? ''),
      train, status),
    h('div', { class: 'card', 'data-section': 'runs' }, h('h2', {}, 'Training runs'),
      runs.length ? h('table', {}, h('tr', {}, ['queued', 'trigger', 'status', 'progress', 'validation', 'finished', 'note'].map((t) => h('th', {}, t))),
        runs.map((r) => h('tr', { 'data-run': r.id, 'data-status': r.status },
          h('td', {}, when(r.queuedAt)), h('td', {}, r.trigger.toLowerCase()), h('td', {}, r.status.toLowerCase(), r.stage ? ` (${r.stage.toLowerCase()})` : ''),
          h('td', {}, r.epochs ? [h('span', { class: 'progress' }, h('div', { class: 'bar', style: `width:${Math.round((100 * (r.epoch ?? 0)) / r.epochs)}%` })), ` ${r.epoch ?? 0}/${r.epochs}`] : '—'),
          h('td', {}, r.validationAccuracy === null ? '—' : `${fmt(r.validationAccuracy, 1)}%`), h('td', {}, when(r.finishedAt)), h('td', { class: r.error ? 'error' : 'muted' }, r.error ?? r.skipReason ?? ''))))
        : h('p', { class: 'muted' }, 'No training runs yet.')),
    h('div', { class: 'card', 'data-section': 'versions' }, h('h2', {}, 'Model versions'),
      versions.length ? h('table', {}, h('tr', {}, ['version', 'status', 'created', 'pairwise', 'serving before', 'global baseline', 'lead over global', 'held-out users', 'taste groups found', 'reason'].map((t) => h('th', {}, t))),
        versions.map((v) => {
          const e = v.evaluation;
          const found = tasteClassesWords({ model: String(v.version), modelVersion: v });
          const status = versionStatusWords(v);
          return h('tr', { 'data-version': v.version },
            h('td', {}, v.version),
            h('td', {}, status.text, status.removed ? h('span', { class: 'muted', title: status.title }, status.removed) : ''),
            h('td', {}, when(v.createdAt)),
            h('td', {}, e ? fmt(e.candidate.pairwise, 1) : '—'), h('td', {}, e?.serving ? fmt(e.serving.pairwise, 1) : '—'), h('td', {}, e ? fmt(e.globalBaseline.pairwise, 1) : '—', e?.globalBaselineKind === 'CHOICES' ? ' (choices)' : ''),
            h('td', {}, e ? `${fmt(e.versusGlobal.mean, 1)} ± ${fmt(e.versusGlobal.standardError, 1)}` : '—'), h('td', {}, e ? `${e.heldOutUsers} (EVAL-1(${e.historySize}))` : '—'),
            h('td', { title: found.note }, found.figure),
            h('td', { class: 'muted' }, v.reason ?? ''));
        }))
        : h('p', { class: 'muted' }, 'No versions of your own yet.')),
  );
  const active = runs.find((r) => ACTIVE.has(r.status));
  if (active) follow(active.id, () => renderModels(view, _args, isShown).catch((error) => append(view, h('p', { class: 'error' }, error.message))), isShown);
}

const RUN_UPDATES = 'subscription($id: ID!) { trainingRunUpdated(id: $id) { id status stage epoch } }';
/** The run followed live, by the page showing it: { runId, isShown, close }. */
let following;

/** Draws the page again at each push of the run and at its end, while the page is shown. */
function follow(runId, redraw, isShown) {
  if (following?.runId === runId && following.isShown === isShown) return; // a push's redraw
  following?.close();
  const mine = { runId, isShown };
  const forget = () => {
    if (following === mine) following = undefined;
  };
  let pushes = 0;
  mine.close = subscribe(RUN_UPDATES, { id: runId }, {
    next: () => {
      if (!isShown()) {
        mine.close();
        forget();
      } else if (pushes++ > 0) redraw(); // the first push is the run as just drawn
    },
    complete: () => {
      forget();
      if (isShown()) redraw();
    },
    error: () => {
      forget();
      setTimeout(() => isShown() && redraw(), 2000);
    },
  });
  following = mine;
}
