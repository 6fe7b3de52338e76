/**
 * How pushes are encoded for a connection that asked for a compatibility
 * facade's format at `$connect` (`?format=<name>`; locally also the facade's
 * WebSocket path, e.g. `/ws/presence`). The format is stored with the
 * connection record (functions/core/presence.ts ConnectionState.p) and
 * applied at delivery (functions/commons/fanout.ts): each change is encoded
 * once per format, never per recipient. A connection without a format gets
 * the contract's `{"type":"presence", …}`.
 */
import type { Presence } from '../core/presence.ts';
import { toPresenceUpdate } from './generic-model.ts';

/** format name → the push message for a change (the presence the recipient may see, and when it was fanned out) */
export const PUSH_FORMATS = {
  generic: toPresenceUpdate,
} as const satisfies Record<string, (data: Presence, timestamp: string | null) => unknown>;

export type PushFormat = keyof typeof PUSH_FORMATS;

export const isPushFormat = (value: unknown): value is PushFormat => typeof value === 'string' && Object.hasOwn(PUSH_FORMATS, value);

/** The message a connection of `format` is sent, as JSON. */
export const encodePush = (format: PushFormat, data: Presence, timestamp: string | null): string => JSON.stringify(PUSH_FORMATS[format](data, timestamp));
