// Job handler of taste groups: unpack the job, call the taste-group service.
import type PgBoss from 'pg-boss';
import { isAppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { TasteGroups } from '../../services/taste-group.service.js';
import type { TasteGroupsJob } from '../queues.js';

/**
 * One tenant's taste groups. A CONFLICT (no model represents its users yet, or too few users
 * have enough history) is an answer, not a failure: logged, not retried. Anything else is
 * thrown, so pg-boss retries it with backoff.
 */
export function handleTasteGroups(groups: Pick<TasteGroups, 'refresh'>, log: Logger) {
  return async ([job]: PgBoss.Job<TasteGroupsJob>[]) => {
    try {
      await groups.refresh(job.data.tenantId, job.data.trigger);
    } catch (error) {
      if (isAppError(error) && error.code === 'CONFLICT') return log.info({ tenantId: job.data.tenantId, reason: error.message }, 'taste groups not refreshed');
      throw error;
    }
  };
}
