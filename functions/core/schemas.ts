/**
 * Request schemas (JSON Schema) and limits of the contract: the single source
 * the handlers validate with and the API documents are generated from.
 */
import { AVAILABILITIES, CALL_STATES, DEVICE_STATUSES, MAX_DEVICES, STATUSES, VISIBILITIES } from './presence.ts';
import type { Schema } from './validate.ts';

export const LIMITS = {
  userIdsPerCall: 100,
  subscriptionsPerUser: 3000,
  /** listener targets (users + groups) one WebSocket connection may hold */
  listenersPerConnection: 1000,
  subscriptionMaxSeconds: 2_592_000,
  subscriptionDefaultSeconds: 86_400,
  sysPresenceMaxSeconds: 604_800,
  /** live devices per user (a new one past this is refused) */
  devicesPerUser: MAX_DEVICES,
  customStatusChars: 64,
  /** profile name: characters, and bytes as JSON */
  profileNameChars: 64,
  profileNameBytes: 256,
  /** profile picture URL (https, URL characters only: its bytes as JSON) */
  profilePicBytes: 512,
  /** customStatus in the bytes it takes in JSON (escapes and multi-byte characters count) */
  customStatusBytes: 256,
  /** ext in the bytes it takes in JSON (escapes and multi-byte characters count) */
  extBytes: 64,
  activityBytes: 1024,
  activityDepth: 16,
  wsMessageBytes: 32 * 1024,
  httpBodyBytes: 64 * 1024,
  listPageMax: 500,
  listPageDefault: 100,
} as const;

export const USER_ID_PATTERN = '^[A-Za-z0-9_.@:-]{1,64}$';
/**
 * Device names become keys of the user's device map, so the few that collide
 * with JavaScript object internals (`__proto__`, `constructor`, `toString`, …)
 * are refused: a documented narrowing of the contract's device pattern.
 */
export const RESERVED_DEVICE_NAMES = Object.getOwnPropertyNames(Object.prototype);
export const DEVICE_PATTERN = `^(?!(?:${RESERVED_DEVICE_NAMES.map((n) => n.replace(/[$]/g, '\\$')).join('|')})$)[A-Za-z0-9_.:-]{1,64}$`;

export const userId: Schema = { type: 'string', pattern: USER_ID_PATTERN, description: '1–64 chars of [A-Za-z0-9_.@:-]' };
export const groupId: Schema = { type: 'string', pattern: USER_ID_PATTERN, description: '1–64 chars of [A-Za-z0-9_.@:-]' };
export const device: Schema = { type: 'string', pattern: DEVICE_PATTERN, description: '1–64 chars of [A-Za-z0-9_.:-]' };
export const userIds: Schema = {
  type: 'array',
  items: userId,
  minItems: 1,
  maxItems: LIMITS.userIdsPerCall,
  uniqueItems: true,
};

const activity: Schema = { type: ['object', 'null'], maxDepth: LIMITS.activityDepth, maxBytes: LIMITS.activityBytes };
const ext: Schema = { type: ['string', 'null'], maxBytes: LIMITS.extBytes };
/** a device's call state (RingCentral's telephonyStatus): any but NoCall makes the user busy unless dnd */
const call: Schema = { enum: CALL_STATES };

const presenceFields: Record<string, Schema> = {
  availability: { enum: AVAILABILITIES },
  availabilityUntil: { type: ['string', 'null'], format: 'date-time' },
  customStatus: { type: ['string', 'null'], maxLength: LIMITS.customStatusChars, maxBytes: LIMITS.customStatusBytes },
  activity,
  visibility: { enum: VISIBILITIES },
};

export const patchPresenceBody: Schema = {
  type: 'object',
  properties: presenceFields,
  additionalProperties: false,
  minProperties: 1,
};

export const heartbeatBody: Schema = {
  type: 'object',
  properties: { device },
  additionalProperties: false,
};

export const putDeviceBody: Schema = {
  type: 'object',
  properties: { status: { enum: STATUSES }, ext, call },
  required: ['status'],
  additionalProperties: false,
};

export const subscribeBody: Schema = {
  type: 'object',
  properties: {
    userIds,
    expiresIn: { type: 'integer', minimum: 1, maximum: LIMITS.subscriptionMaxSeconds },
  },
  required: ['userIds'],
  additionalProperties: false,
};

export const unsubscribeBody: Schema = {
  type: 'object',
  properties: { userIds },
  required: ['userIds'],
  additionalProperties: false,
};

const listLimit: Schema = { type: 'string', pattern: '^[0-9]{1,3}$' };
export const listSubscriptionsQuery: Schema = {
  type: 'object',
  properties: { limit: listLimit, cursor: { type: 'string', maxLength: 1024 } },
  additionalProperties: false,
};

// ---- WebSocket messages: {action, requestId?, ...fields} ----
const requestId: Schema = { type: ['string', 'integer'] as Schema['type'], maxLength: 128 };
const wsMessage = /* @__NO_SIDE_EFFECTS__ */ (fields: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties: { action: { type: 'string' }, requestId, ...fields },
  required: ['action', ...required],
  additionalProperties: false,
});

/** `listen`: exactly one of friends / groupId / userIds; `bidirectional`: the targets hear the caller too. */
const bidirectional: Schema = { type: 'boolean' };
const listenMessage: Schema = {
  anyOf: [
    wsMessage({ friends: { const: true }, bidirectional }, ['friends']),
    wsMessage({ groupId, bidirectional }, ['groupId']),
    wsMessage({ userIds, bidirectional }, ['userIds']),
  ],
};

export const wsSchemas: Record<string, Schema> = {
  heartbeat: wsMessage({}),
  getPresence: wsMessage({ userIds, includeOffline: { type: 'boolean' } }, ['userIds']),
  subscribe: wsMessage(subscribeBody.properties ?? {}, ['userIds']),
  unsubscribe: wsMessage(unsubscribeBody.properties ?? {}, ['userIds']),
  setPresence: wsMessage({ ...presenceFields, status: { enum: DEVICE_STATUSES }, ext, call }),
  listen: listenMessage,
  stopListening: wsMessage({}),
  forcePush: wsMessage({}),
};

// ---- sys (cloud functions, IoT back ends) ----
export const sysPresenceBody: Schema = {
  type: 'object',
  properties: {
    expiresIn: { type: 'integer', minimum: 1, maximum: LIMITS.sysPresenceMaxSeconds },
    status: { enum: DEVICE_STATUSES },
    activity,
    device,
    call,
    /** brainCloud's visible flag: true sets visibility `everyone`, false `nobody`; left out: unchanged */
    visible: { type: 'boolean' },
  },
  required: ['expiresIn'],
  additionalProperties: false,
};

export const sysExtendBody: Schema = {
  type: 'object',
  properties: { expiresIn: sysPresenceBody.properties?.expiresIn as Schema, device },
  required: ['expiresIn'],
  additionalProperties: false,
};

/**
 * A profile picture: an https URL of host, optional port, and path, query or
 * fragment in URL characters only (percent-encode the rest), so its length
 * is its size in bytes, in JSON too; no user info (`user:pass@`).
 */
export const PIC_PATTERN = "^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][A-Za-z0-9._~:/?#\\[\\]@!$&'()*+,;=%-]*)?$";

/** PUT /v1/sys/users/{userId}/profile: replaces the profile (a field left out or null is not set). */
export const sysProfileBody: Schema = {
  type: 'object',
  properties: {
    name: { type: ['string', 'null'], minLength: 1, maxLength: LIMITS.profileNameChars, maxBytes: LIMITS.profileNameBytes },
    pic: { type: ['string', 'null'], maxLength: LIMITS.profilePicBytes, pattern: PIC_PATTERN, description: 'https URL, at most 512 bytes' },
  },
  additionalProperties: false,
};

/** `all=true`: every device of the user, whatever its kind (ws, http, sys), not only sys devices */
export const sysTerminateQuery: Schema = {
  type: 'object',
  properties: { device, all: { enum: ['true', 'false'] } },
  additionalProperties: false,
};

/**
 * The sys operations as a directly invoked Lambda (functions/workers/sys-invoke.ts):
 * the HTTP route's body plus `op` and the ids the route has in its path.
 */
const sysPayload = /* @__NO_SIDE_EFFECTS__ */ (ids: Record<string, Schema>, body?: Schema): Schema => ({
  type: 'object',
  properties: { op: { type: 'string' }, ...ids, ...(body?.properties ?? {}) },
  required: ['op', ...Object.keys(ids), ...(body?.required ?? [])],
  additionalProperties: false,
});

export const sysInvokePayloads = {
  initializePresence: sysPayload({ userId }, sysPresenceBody),
  extendPresence: sysPayload({ userId }, sysExtendBody),
  // the query's `all` as a JSON boolean
  terminatePresence: sysPayload({ userId }, { properties: { device, all: { type: 'boolean' } } }),
  setProfile: sysPayload({ userId }, sysProfileBody),
  addFriend: sysPayload({ userId, friendId: userId }),
  removeFriend: sysPayload({ userId, friendId: userId }),
  addGroupMember: sysPayload({ groupId, userId }),
  removeGroupMember: sysPayload({ groupId, userId }),
} satisfies Record<string, Schema>;

const includeOffline: Schema = { enum: ['true', 'false'] };
export const friendsPresenceQuery: Schema = {
  type: 'object',
  properties: { includeOffline, limit: listLimit, cursor: { type: 'string', maxLength: 1024 } },
  additionalProperties: false,
};
/** GET /v1/admin/presence: a page of the online list */
export const onlinePresenceQuery: Schema = {
  type: 'object',
  properties: { limit: listLimit, cursor: { type: 'string', maxLength: 1024 } },
  additionalProperties: false,
};
export const groupPresenceQuery: Schema = {
  type: 'object',
  properties: { includeOffline, limit: listLimit, cursor: { type: 'string', maxLength: 1024 } },
  additionalProperties: false,
};

/** Page size from a `limit` query value (already pattern-checked), or a 400 message. */
export function pageLimit(raw: string | undefined): number | string {
  const limit = raw === undefined ? LIMITS.listPageDefault : Number(raw);
  return limit >= 1 && limit <= LIMITS.listPageMax ? limit : `limit must be 1–${LIMITS.listPageMax}`;
}

export { DEVICE_STATUSES };

export const batchPresenceQuery: Schema = {
  type: 'object',
  properties: { userIds: { type: 'string', minLength: 1, maxLength: 100 * 65 }, includeOffline },
  required: ['userIds'],
  additionalProperties: false,
};

/** List cursors are opaque to clients: the last userId of the page, base64url-encoded. */
export const encodeCursor = (lastUserId: string): string => Buffer.from(lastUserId, 'utf8').toString('base64url');

/** The userId in a cursor, or undefined when the cursor is not one of ours. */
export function decodeCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(cursor)) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  return new RegExp(USER_ID_PATTERN).test(id) ? id : undefined;
}

/** A place in a sharded list (the online list): a shard and the last userId read there (null: its start). */
export interface ShardCursor {
  shard: number;
  after: string | null;
}

/** Sharded-list cursors are opaque too: `<shard>:<last userId>` (nothing after the colon at a shard's start), base64url-encoded. */
export const encodeShardCursor = (c: ShardCursor): string => encodeCursor(`${c.shard}:${c.after ?? ''}`);

/** The place in a sharded-list cursor, or undefined when the cursor is not one of ours. */
export function decodeShardCursor(cursor: string): ShardCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(cursor)) return undefined;
  const m = /^(0|[1-9][0-9]{0,2}):(.*)$/s.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) return undefined;
  const after = m[2] as string;
  if (after !== '' && !new RegExp(USER_ID_PATTERN).test(after)) return undefined;
  return { shard: Number(m[1]), after: after === '' ? null : after };
}
