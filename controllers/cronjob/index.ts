// The CronJob controller: the cron schedule, its pure decisions, its loop.
export * from './schedule.js';
export { type ActiveRef, type CronJobView, type ChildJob, type CronEvent, type CronDecision, type ActiveReconciled, cronJobOf, childJobOf, refOf, reconcileActive, scheduleOf, requeueAfter, decide, jobNameOf, SCHEDULED_TIMESTAMP_ANNOTATION, jobFromTemplate, jobsPastHistory, cronStatusOf } from './logic.js';
export { CronJobController, CRONJOB_PREFIX } from './controller.js';
