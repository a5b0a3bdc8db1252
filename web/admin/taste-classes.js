// What the model that made a snapshot's representations found of the users' taste groups, in
// words for the groups and models pages. Pure (no DOM), so test/unit/taste-classes.test.ts reads it.
// k-means always draws k groups and silhouette does not tell weak groups from none; the
// model's training does (TasteClasses.found: 1 means one shared taste).

/**
 * { figure, note, warning, count } for a snapshot (or a version's row) with `model` and
 * `modelVersion { version tasteClasses { found served chosenBy users } }`; count is the number
 * of groups found where there are two or more (an admin may group by it), else null.
 */
export function tasteClassesWords(snap) {
  const v = snap.modelVersion;
  if (!v) {
    return {
      figure: '—',
      note: `Model ${snap.model} is the shipped base model, trained on other users: whether these users form groups shows once the tenant's own model serves.`,
      warning: false,
      count: null,
    };
  }
  const t = v.tasteClasses;
  if (!t) return { figure: '—', note: `Version ${v.version}'s training did not record whether the users form groups.`, warning: false, count: null };
  if (t.found === null) {
    return {
      figure: '—',
      note: `Version ${v.version} mixes ${t.served} classes of taste, not judged on held-out users (${t.chosenBy}).`,
      warning: false,
      count: null,
    };
  }
  const users = `${t.users.toLocaleString('en')} training users`;
  if (t.found === 1) {
    return {
      figure: 'none',
      note:
        `Version ${v.version}'s training found no taste groups: one shared taste explains its ${users} as well as any number of groups, ` +
        'so groups drawn from them split users who differ one by one rather than groups who like alike.',
      warning: true,
      count: null,
    };
  }
  return {
    figure: String(t.found),
    note: `Version ${v.version}'s training found ${t.found} groups of taste among its ${users} (judged on users held out from the fit); its representation mixes ${t.served} classes.`,
    warning: false,
    count: t.found,
  };
}
