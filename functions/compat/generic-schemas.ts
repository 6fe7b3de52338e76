/**
 * JSON Schemas of the generic REST presence API facade (docs/compat.md): the
 * request body it validates (compiled ahead of time with the contract's
 * schemas, lib/validators.ts) and the responses it answers with (published in
 * the OpenAPI document, checked against real responses in the tests).
 */
import type { Schema } from '../core/validate.ts';

/** the most user ids one `GET /users/presence` may name */
export const GENERIC_MAX_USER_IDS = 50;

/**
 * `PUT /users/me/status`. Every field optional; `null` for is_online/is_busy
 * means "not given"; unknown fields are ignored (a client may send a whole
 * UserStatus back, as the API's own TypeScript example does with
 * `Partial<UserStatus>`). busy_until's format is checked by the facade
 * (ISO 8601, with or without an offset).
 */
export const genericStatusBody: Schema = {
  type: 'object',
  properties: {
    is_online: { type: ['boolean', 'null'] },
    is_busy: { type: ['boolean', 'null'] },
    busy_until: { type: ['string', 'null'], maxLength: 64 },
  },
};

const userIdField: Schema = { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string' }] };
const time: Schema = { type: 'string', format: 'date-time' };
const nullableTime: Schema = { anyOf: [{ type: 'null' }, time] };

/** UserStatus: the caller's own status record. */
export const genericUserStatus: Schema = {
  type: 'object',
  properties: {
    user_id: userIdField,
    is_online: { type: 'boolean' },
    is_busy: { type: 'boolean' },
    busy_until: nullableTime,
    last_seen: time,
    created_at: time,
    updated_at: time,
  },
  required: ['user_id', 'is_online', 'is_busy', 'busy_until', 'last_seen', 'created_at', 'updated_at'],
  additionalProperties: false,
};

/** UserPresence: another user, as the caller may see them. */
export const genericUserPresence: Schema = {
  type: 'object',
  properties: {
    user_id: userIdField,
    username: { type: 'string' },
    is_online: { type: 'boolean' },
    is_busy: { type: 'boolean' },
    busy_until: nullableTime,
    last_seen: nullableTime,
  },
  required: ['user_id', 'username', 'is_online', 'is_busy', 'busy_until', 'last_seen'],
  additionalProperties: false,
};

export const genericPresenceList: Schema = { type: 'array', items: genericUserPresence, maxItems: GENERIC_MAX_USER_IDS };

export const genericMessage: Schema = {
  type: 'object',
  properties: { message: { type: 'string' } },
  required: ['message'],
  additionalProperties: false,
};

export const genericCleanup: Schema = {
  type: 'object',
  properties: {
    message: { const: 'Presence cleanup completed' },
    users_marked_offline: { type: 'integer', minimum: 0 },
    busy_status_cleared: { type: 'integer', minimum: 0 },
  },
  required: ['message', 'users_marked_offline', 'busy_status_cleared'],
  additionalProperties: false,
};

/** Every error of the facade: `{"detail": "..."}` and nothing else. */
export const genericError: Schema = {
  type: 'object',
  properties: { detail: { type: 'string', minLength: 1 } },
  required: ['detail'],
  additionalProperties: false,
};
