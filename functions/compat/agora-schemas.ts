/**
 * JSON Schemas of the Agora Chat presence REST facade (docs/compat.md): what
 * it takes and answers (published in the OpenAPI document, checked against
 * real responses in test/e2e/compat-agora.test.ts). The facade validates its
 * input in agora-model.ts (Agora's own rules: bare arrays, strings for numbers).
 */
import type { Schema } from '../core/validate.ts';
import { AGORA_LIMITS } from './agora-model.ts';

/** Unix seconds as a string, as Agora's REST answers carry numbers */
const seconds: Schema = { type: 'string', pattern: '^[0-9]+$' };
const usernames: Schema = { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: AGORA_LIMITS.usernamesPerCall };

export const agoraExtBody: Schema = {
  type: 'object',
  properties: { ext: { type: 'string', description: `at most ${AGORA_LIMITS.extBytes} bytes: the user's customStatus ('' clears it)` } },
  required: ['ext'],
};
export const agoraUsernamesBody: Schema = { type: 'object', properties: { usernames }, required: ['usernames'] };
export const agoraUnsubscribeBody: Schema = {
  description: '{"usernames": [...]}, {"users": [...]} or a bare JSON array of user IDs',
  anyOf: [usernames, { type: 'object', properties: { usernames } }, { type: 'object', properties: { users: usernames } }],
};
export const agoraPageQuery: Schema = {
  type: 'object',
  properties: {
    pageNum: { type: 'string', description: '1 for the first page (0 is read as 1)' },
    pageSize: { type: 'string', description: `1 to ${AGORA_LIMITS.pageSizeMax}` },
  },
  required: ['pageNum', 'pageSize'],
};

const presenceProps = {
  uid: { type: 'string' },
  last_time: seconds,
  ext: { type: 'string' },
  status: {
    type: 'object',
    description: 'resource (device) → "1", a custom status, or away/busy/dnd; "0" for one that went offline in the last 24 h (every value a string)',
  },
} satisfies Record<string, Schema>;

export const agoraPresence: Schema = {
  type: 'object',
  properties: presenceProps,
  required: ['uid', 'last_time', 'ext', 'status'],
  additionalProperties: false,
};
export const agoraSubscribed: Schema = {
  type: 'object',
  properties: { ...presenceProps, expiry: seconds },
  required: ['uid', 'last_time', 'expiry', 'ext', 'status'],
  additionalProperties: false,
};
export const agoraPresenceList: Schema = {
  type: 'object',
  properties: { result: { type: 'array', items: agoraPresence } },
  required: ['result'],
  additionalProperties: false,
};
export const agoraSubscribedList: Schema = {
  type: 'object',
  properties: { result: { type: 'array', items: agoraSubscribed } },
  required: ['result'],
  additionalProperties: false,
};
export const agoraOk: Schema = { type: 'object', properties: { result: { const: 'ok' } }, required: ['result'], additionalProperties: false };
export const agoraSubList: Schema = {
  type: 'object',
  properties: {
    result: {
      type: 'object',
      properties: {
        totalnum: seconds,
        sublist: {
          type: 'array',
          items: {
            type: 'object',
            properties: { uid: { type: 'string' }, expiry: seconds },
            required: ['uid', 'expiry'],
            additionalProperties: false,
          },
        },
      },
      required: ['totalnum', 'sublist'],
      additionalProperties: false,
    },
  },
  required: ['result'],
  additionalProperties: false,
};

/** Agora's REST error body (its "HTTP Status Codes" page). */
export const agoraErrorBody: Schema = {
  type: 'object',
  properties: {
    error: { type: 'string', minLength: 1 },
    exception: { type: 'string', minLength: 1 },
    timestamp: { type: 'integer' },
    duration: { type: 'integer' },
    error_description: { type: 'string', minLength: 1 },
  },
  required: ['error', 'exception', 'timestamp', 'duration', 'error_description'],
  additionalProperties: false,
};
