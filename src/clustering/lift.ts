// What a taste group likes (or dislikes) more than the tenant as a whole: the lift of an item,
// its like rate among the group's users over its like rate among all users. Raw counts would
// crown the tenant's most popular items in every group. A rate from few users is noisy, so the
// group's rate is shrunk toward the tenant's (an m-estimate with `prior` pseudo-users), and an
// item needs `minCount` of the group's users to count at all.

export interface ItemCounts {
  itemId: number;
  /** Users of the group who gave the item this reaction. */
  group: number;
  /** Users of the whole tenant who did. */
  tenant: number;
}

export interface LiftOptions {
  groupUsers: number;
  tenantUsers: number;
  prior: number;
  minCount: number;
  limit: number;
}

export interface ItemLift {
  itemId: number;
  lift: number;
  count: number;
}

export function liftOf(c: ItemCounts, o: Pick<LiftOptions, 'groupUsers' | 'tenantUsers' | 'prior'>): number {
  const tenantRate = c.tenant / o.tenantUsers;
  if (tenantRate === 0) return 0;
  const groupRate = (c.group + o.prior * tenantRate) / (o.groupUsers + o.prior);
  return groupRate / tenantRate;
}

/** The group's `limit` items of highest lift (ties: more users first, then lower id), lift above 1 only. */
export function topByLift(counts: readonly ItemCounts[], o: LiftOptions): ItemLift[] {
  return counts
    .filter((c) => c.group >= o.minCount && c.tenant > 0)
    .map((c) => ({ itemId: c.itemId, lift: liftOf(c, o), count: c.group }))
    .filter((x) => x.lift > 1)
    .sort((a, b) => b.lift - a.lift || b.count - a.count || a.itemId - b.itemId)
    .slice(0, o.limit);
}
