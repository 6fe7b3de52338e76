/**
 * The sys operations as a directly invokable Lambda, for cloud functions in
 * the same AWS account (IAM `lambda:InvokeFunction` instead of a token).
 * Payload: the HTTP route's body plus `op` and the path's ids, e.g.
 *   {"op":"initializePresence","userId":"thermostat-7","expiresIn":3600,"status":"online"}
 * Answers the operation's result, or {"error","message"} like the HTTP routes.
 */
import { lambdaHandler } from '../commons/lambda.ts';
import { logger } from '../commons/logger.ts';
import * as ops from '../commons/operations.ts';
import { badRequest, toApiError } from '../core/errors.ts';
import { device, groupId, sysExtendBody, sysPresenceBody, userId } from '../core/schemas.ts';
import { type Schema, validate } from '../core/validate.ts';

const withIds = (ids: Record<string, Schema>, body?: Schema): Schema => ({
  type: 'object',
  properties: { op: { type: 'string' }, ...ids, ...(body?.properties ?? {}) },
  required: ['op', ...Object.keys(ids), ...(body?.required ?? [])],
  additionalProperties: false,
});

type Payload = Record<string, any>;
type Op = { schema: Schema; run: (p: Payload) => Promise<unknown> };
/** a Map, so that `op` is looked up among these names only (never `constructor`, `__proto__`, `toString`... of an object) */
const OPS: ReadonlyMap<string, Op> = new Map(
  Object.entries({
    initializePresence: { schema: withIds({ userId }, sysPresenceBody), run: (p) => ops.sysInitialize(p.userId, p as ops.SysPresenceInput) },
    extendPresence: { schema: withIds({ userId }, sysExtendBody), run: (p) => ops.sysExtend(p.userId, p as { expiresIn: number }) },
    terminatePresence: { schema: withIds({ userId }, { properties: { device } }), run: (p) => ops.sysTerminate(p.userId, p.device) },
    addFriend: { schema: withIds({ userId, friendId: userId }), run: (p) => ops.addFriends(p.userId, p.friendId) },
    removeFriend: { schema: withIds({ userId, friendId: userId }), run: (p) => ops.removeFriends(p.userId, p.friendId) },
    addGroupMember: { schema: withIds({ groupId, userId }), run: (p) => ops.addMember(p.groupId, p.userId) },
    removeGroupMember: { schema: withIds({ groupId, userId }), run: (p) => ops.removeMember(p.groupId, p.userId) },
  } satisfies Record<string, Op>),
);

export const SYS_OPS = [...OPS.keys()];

export const handler = lambdaHandler(async (payload: unknown): Promise<unknown> => {
  try {
    const p = (payload ?? {}) as Payload;
    const op = typeof p.op === 'string' ? OPS.get(p.op) : undefined;
    if (!op) throw badRequest(`op must be one of ${SYS_OPS.join(', ')}`);
    const problem = validate(op.schema, p, 'payload');
    if (problem) throw badRequest(problem);
    return await op.run(p);
  } catch (error) {
    const err = toApiError(error);
    if (err.status >= 500) logger.error('sys invoke failed', { error });
    return err.toBody();
  }
});
