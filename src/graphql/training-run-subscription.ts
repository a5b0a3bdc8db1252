// trainingRunUpdated over graphql-ws: the adapter between a subscription and the run's follower
// (services/training-run-updates.service.ts decides when the run is read and pushed). Here: the
// connection's limit on subscriptions, and the end of the subscription when its key is revoked.
import { AppError } from '../errors.js';
import type { TrainingRunRow } from '../services/records.js';
import { pushStream } from '../services/push-stream.js';
import type { TrainingRunFollower } from '../services/training-run-updates.service.js';
import type { ConnectionSubscriptions, SubscriptionLimits } from './feed-subscription.js';

export function trainingRunUpdates(
  follow: () => TrainingRunFollower,
  connection: ConnectionSubscriptions,
  limits: Pick<SubscriptionLimits, 'perConnection'>,
): AsyncIterableIterator<TrainingRunRow> {
  if (connection.open >= limits.perConnection) {
    throw new AppError('RATE_LIMITED', `at most ${limits.perConnection} subscriptions per connection (SUBSCRIPTIONS_PER_CONNECTION)`);
  }
  const follower = follow();
  const untrack = connection.track((error) => follower.end(error));
  const finished = <T extends IteratorResult<TrainingRunRow>>(result: T) => {
    if (result.done) untrack();
    return result;
  };
  const next = () =>
    follower.next().then(finished, (error) => {
      untrack();
      throw error;
    });
  return pushStream(next, () => {
    untrack();
    void follower.return!();
  });
}
