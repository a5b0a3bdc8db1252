// The job queues (pg-boss, in the platform's PostgreSQL) and their payloads: one place for names.

export const QUEUES = Object.freeze({
  /** The nightly fan-out: one training run for each tenant with new interactions. */
  NIGHTLY: 'training-nightly',
  /** One training run of one tenant. */
  TRAINING_RUN: 'training-run',
  /** The hourly fan-out: taste groups again for each tenant whose users changed. */
  TASTE_GROUPS_HOURLY: 'taste-groups-hourly',
  /** One tenant's representations refreshed and users grouped again. */
  TASTE_GROUPS: 'taste-groups',
});

export interface TasteGroupsJob {
  tenantId: string;
  trigger: 'PROMOTION' | 'SCHEDULE';
}

export interface TrainingRunJob {
  tenantId: string;
  runId: string;
}

/** "03:00 UTC" for a daily cron, else the cron itself: for messages to people. */
export function describeSchedule(cron: string): string {
  const daily = /^(\d{1,2}) (\d{1,2}) \* \* \*$/.exec(cron);
  return daily ? `${daily[2].padStart(2, '0')}:${daily[1].padStart(2, '0')} UTC` : `cron "${cron}" (UTC)`;
}
