/**
 * Response schemas of the contract (JSON Schema): published in the API
 * documents and checked against real responses in the tests.
 */
import { ERROR_STATUS } from './errors.ts';
import { AVAILABILITIES, CALL_STATES, DEVICE_STATUSES, STATUSES, VISIBILITIES } from './presence.ts';
import type { Schema } from './validate.ts';

const isoTime: Schema = { type: 'string', format: 'date-time' };
const nullableTime: Schema = { anyOf: [{ type: 'null' }, isoTime] };
const id: Schema = { type: 'string' };

export const presence: Schema = {
  type: 'object',
  properties: {
    userId: id,
    status: { enum: STATUSES },
    customStatus: { type: ['string', 'null'] },
    activity: { type: ['object', 'null'] },
    profile: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          properties: { name: { type: ['string', 'null'] }, pic: { type: ['string', 'null'] } },
          required: ['name', 'pic'],
          additionalProperties: false,
        },
      ],
    },
    availabilityUntil: nullableTime,
    call: { enum: CALL_STATES },
    devices: {
      type: 'array',
      items: {
        type: 'object',
        properties: { device: id, status: { enum: DEVICE_STATUSES }, ext: { type: ['string', 'null'] }, call: { enum: CALL_STATES }, lastSeen: isoTime },
        required: ['device', 'status', 'ext', 'call', 'lastSeen'],
        additionalProperties: false,
      },
    },
    lastSeen: nullableTime,
    version: { type: 'integer', minimum: 0 },
  },
  required: ['userId', 'status', 'customStatus', 'activity', 'profile', 'availabilityUntil', 'call', 'devices', 'lastSeen', 'version'],
  additionalProperties: false,
};

export const ownPresence: Schema = {
  ...presence,
  properties: { ...presence.properties, visibility: { enum: VISIBILITIES }, availability: { enum: AVAILABILITIES } },
  required: [...(presence.required ?? []), 'visibility', 'availability'],
};

export const presenceList: Schema = {
  type: 'object',
  properties: { presence: { type: 'array', items: presence }, nextCursor: { type: ['string', 'null'] } },
  required: ['presence'],
  additionalProperties: false,
};

export const errorBody: Schema = {
  type: 'object',
  properties: {
    error: { enum: Object.keys(ERROR_STATUS) },
    message: { type: 'string' },
  },
  required: ['error', 'message'],
  additionalProperties: false,
};

const subscription: Schema = {
  type: 'object',
  properties: { userId: id, expiresAt: isoTime },
  required: ['userId', 'expiresAt'],
  additionalProperties: false,
};

export const subscribeResult: Schema = {
  type: 'object',
  properties: {
    subscribed: { type: 'array', items: subscription },
    rejected: { type: 'array', items: id },
    evicted: { type: 'array', items: id },
    presence: { type: 'array', items: presence },
  },
  required: ['subscribed', 'rejected', 'evicted', 'presence'],
  additionalProperties: false,
};

export const unsubscribeResult: Schema = {
  type: 'object',
  properties: { unsubscribed: { type: 'array', items: id } },
  required: ['unsubscribed'],
  additionalProperties: false,
};

export const subscriptionPage: Schema = {
  type: 'object',
  properties: { total: { type: 'integer', minimum: 0 }, subscriptions: { type: 'array', items: subscription }, nextCursor: { type: ['string', 'null'] } },
  required: ['total', 'subscriptions', 'nextCursor'],
  additionalProperties: false,
};

export const heartbeatResult: Schema = {
  type: 'object',
  properties: { device: id, expiresAt: isoTime },
  required: ['device', 'expiresAt'],
  additionalProperties: false,
};

export const friendsResult: Schema = {
  type: 'object',
  properties: { friends: { type: 'array', items: id } },
  required: ['friends'],
  additionalProperties: false,
};

export const okResult: Schema = { type: 'object', properties: { ok: { const: true } }, required: ['ok'], additionalProperties: false };

export const sweepCounts: Schema = {
  type: 'object',
  properties: Object.fromEntries(
    ['usersMarkedOffline', 'devicesExpired', 'availabilityCleared', 'subscriptionsExpired'].map((k) => [k, { type: 'integer', minimum: 0 }]),
  ),
  required: ['usersMarkedOffline', 'devicesExpired', 'availabilityCleared', 'subscriptionsExpired'],
  additionalProperties: false,
};

/** Server → client WebSocket messages. */
export const wsResponse: Schema = {
  type: 'object',
  properties: { type: { const: 'response' }, requestId: { type: ['string', 'integer', 'null'] as Schema['type'] }, data: {} },
  required: ['type', 'data'],
};
export const wsError: Schema = {
  type: 'object',
  properties: {
    type: { const: 'error' },
    requestId: { type: ['string', 'integer', 'null'] as Schema['type'] },
    error: errorBody.properties?.error as Schema,
    message: { type: 'string' },
    retryAfter: { type: 'integer', minimum: 1, description: 'rate_limited: seconds until the limit lets this through again' },
  },
  required: ['type', 'error', 'message'],
};
export const wsPush: Schema = {
  type: 'object',
  properties: { type: { const: 'presence' }, data: presence, timestamp: isoTime },
  required: ['type', 'data', 'timestamp'],
  additionalProperties: false,
};
