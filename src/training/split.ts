// Held-out users: a fixed share of a tenant's users, chosen by a hash of their id, never by a
// draw. The same user is held out in every run, so tomorrow's held-out users are today's and
// no model is ever evaluated on users an earlier version was trained on.
import { createHash } from 'node:crypto';

/** True for about `percent`% of user ids, the same ones every time. */
export function isHeldOut(userExternalId: string, percent: number): boolean {
  const digest = createHash('sha256').update(userExternalId, 'utf8').digest();
  return digest.readUInt32BE(0) % 100 < percent;
}
