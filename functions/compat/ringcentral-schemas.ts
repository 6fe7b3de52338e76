/**
 * JSON Schemas of the RingCentral presence facade (docs/compat.md,
 * "RingCentral presence"): the request body and query it validates (compiled
 * ahead of time with the contract's schemas, lib/validators.ts) and the
 * responses it answers with (published in the OpenAPI document, checked
 * against real responses in the tests). Field names and enums follow
 * RingCentral's public API reference (Presence: getPresenceStatus,
 * updatePresenceStatus, accountPresence).
 */
import { LIMITS } from '../core/schemas.ts';
import type { Schema } from '../core/validate.ts';

export const RC_USER_STATUSES = ['Offline', 'Busy', 'Available'] as const;
export const RC_DND_STATUSES = ['TakeAllCalls', 'DoNotAcceptAnyCalls', 'DoNotAcceptDepartmentCalls', 'TakeDepartmentCallsOnly'] as const;
export const RC_TELEPHONY_STATUSES = ['NoCall', 'CallConnected', 'Ringing', 'OnHold', 'ParkedCall'] as const;

/** RingCentral's default and largest `perPage` of the account-wide list */
export const RC_PER_PAGE_DEFAULT = 100;
export const RC_PER_PAGE_MAX = 1000;
/** the deepest record a page may reach (page × perPage): a page is found by walking our cursors from the start */
export const RC_MAX_RECORDS = 5000;

/**
 * `PUT …/extension/{extensionId}/presence` (RingCentral's PresenceInfoRequest):
 * every field optional; unknown fields are ignored (a client may send a whole
 * presence object back, as RingCentral's SDK examples do).
 */
export const rcPresenceBody: Schema = {
  type: 'object',
  properties: {
    userStatus: { enum: [...RC_USER_STATUSES] },
    dndStatus: { enum: [...RC_DND_STATUSES] },
    message: { type: 'string', maxLength: LIMITS.customStatusChars, maxBytes: LIMITS.customStatusBytes },
    allowSeeMyPresence: { type: 'boolean' },
    ringOnMonitoredCall: { type: 'boolean' },
    pickUpCallsOnHold: { type: 'boolean' },
  },
};

/** `GET …/account/{accountId}/presence?page=&perPage=` (numbers as strings: a query string). */
export const rcAccountPresenceQuery: Schema = {
  type: 'object',
  properties: {
    page: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' },
    perPage: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' },
    detailedTelephonyState: { enum: ['true', 'false'] },
    sipData: { enum: ['true', 'false'] },
  },
};

const uri: Schema = { type: 'string', minLength: 1 };

/** PresenceInfoResponse, the fields this facade fills. */
export const rcPresence: Schema = {
  type: 'object',
  properties: {
    uri,
    extension: {
      type: 'object',
      properties: { uri, id: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string' }] }, extensionNumber: { type: 'string' } },
      required: ['uri', 'id', 'extensionNumber'],
      additionalProperties: false,
    },
    presenceStatus: { enum: [...RC_USER_STATUSES] },
    telephonyStatus: { enum: [...RC_TELEPHONY_STATUSES] },
    userStatus: { enum: [...RC_USER_STATUSES] },
    dndStatus: { enum: [...RC_DND_STATUSES] },
    message: { type: 'string' },
    allowSeeMyPresence: { type: 'boolean' },
    ringOnMonitoredCall: { type: 'boolean' },
    pickUpCallsOnHold: { type: 'boolean' },
  },
  required: ['uri', 'extension', 'presenceStatus', 'telephonyStatus', 'userStatus', 'dndStatus', 'ringOnMonitoredCall', 'pickUpCallsOnHold'],
  additionalProperties: false,
};

const pageUri: Schema = { type: 'object', properties: { uri }, required: ['uri'], additionalProperties: false };

/** AccountPresenceInfo: records, paging, navigation. */
export const rcAccountPresence: Schema = {
  type: 'object',
  properties: {
    uri,
    records: { type: 'array', items: rcPresence, maxItems: RC_PER_PAGE_MAX },
    paging: {
      type: 'object',
      properties: {
        page: { type: 'integer', minimum: 1 },
        perPage: { type: 'integer', minimum: 1 },
        pageStart: { type: 'integer', minimum: 0 },
        pageEnd: { type: 'integer', minimum: 0 },
      },
      required: ['page', 'perPage'],
      additionalProperties: false,
    },
    navigation: {
      type: 'object',
      properties: { firstPage: pageUri, nextPage: pageUri, previousPage: pageUri },
      required: ['firstPage'],
      additionalProperties: false,
    },
  },
  required: ['uri', 'records', 'paging', 'navigation'],
  additionalProperties: false,
};

/** the parameter a CMN-101 / CMN-102 is about (RingCentral's error guide: `parameterName`) */
const parameterName: Schema = { type: 'string', minLength: 1 };

/**
 * RingCentral's error body (its error guide, developers.ringcentral.com/guide/basics/errors):
 * `{"errorCode", "message", "errors": [{"errorCode", "message", "parameterName"?}], "parameterName"?}`.
 */
export const rcError: Schema = {
  type: 'object',
  properties: {
    errorCode: { type: 'string', minLength: 1 },
    message: { type: 'string', minLength: 1 },
    errors: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: { errorCode: { type: 'string', minLength: 1 }, message: { type: 'string', minLength: 1 }, parameterName },
        required: ['errorCode', 'message'],
        additionalProperties: false,
      },
    },
    parameterName,
  },
  required: ['errorCode', 'message', 'errors'],
  additionalProperties: false,
};
