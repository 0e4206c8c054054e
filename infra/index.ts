/**
 * Pulumi entry point (`main: infra/` in Pulumi.yaml). `npm run deploy` builds the functions and
 * runs `pulumi up` on this program.
 */
import { deployStack } from './stack';

const outputs = deployStack();

export const apiUrl = outputs.apiUrl;
export const scraperUrl = outputs.scraperUrl;
export const recorderUrl = outputs.recorderUrl;
export const topicName = outputs.topicName;
export const deadLetterTopicName = outputs.deadLetterTopicName;
export const pushSubscriptionName = outputs.pushSubscriptionName;
export const deadLetterSubscriptionName = outputs.deadLetterSubscriptionName;
export const deadLetterAuditSubscriptionName = outputs.deadLetterAuditSubscriptionName;
export const dashboardId = outputs.dashboardId;
export const capacity = outputs.capacity;
