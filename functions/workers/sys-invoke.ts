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
import { type Validator, validate } from '../core/validate.ts';
import * as validators from '../core/validators.generated.js';

type Payload = Record<string, any>;
type Op = { check: Validator; run: (p: Payload) => Promise<unknown> };
/** a Map, so that `op` is looked up among these names only (never `constructor`, `__proto__`, `toString`... of an object) */
const OPS: ReadonlyMap<string, Op> = new Map(
  Object.entries({
    initializePresence: { check: validators.sysInvokeInitializePresence, run: (p) => ops.sysInitialize(p.userId, p as ops.SysPresenceInput) },
    extendPresence: { check: validators.sysInvokeExtendPresence, run: (p) => ops.sysExtend(p.userId, p as { expiresIn: number }) },
    terminatePresence: { check: validators.sysInvokeTerminatePresence, run: (p) => ops.sysTerminate(p.userId, p.device, p.all === true) },
    setProfile: { check: validators.sysInvokeSetProfile, run: (p) => ops.sysSetProfile(p.userId, p) },
    addFriend: { check: validators.sysInvokeAddFriend, run: (p) => ops.addFriends(p.userId, p.friendId) },
    removeFriend: { check: validators.sysInvokeRemoveFriend, run: (p) => ops.removeFriends(p.userId, p.friendId) },
    addGroupMember: { check: validators.sysInvokeAddGroupMember, run: (p) => ops.addMember(p.groupId, p.userId) },
    removeGroupMember: { check: validators.sysInvokeRemoveGroupMember, run: (p) => ops.removeMember(p.groupId, p.userId) },
  } satisfies Record<string, Op>),
);

export const SYS_OPS = [...OPS.keys()];

export const handler = lambdaHandler(async (payload: unknown): Promise<unknown> => {
  try {
    const p = (payload ?? {}) as Payload;
    const op = typeof p.op === 'string' ? OPS.get(p.op) : undefined;
    if (!op) throw badRequest(`op must be one of ${SYS_OPS.join(', ')}`);
    const problem = validate(op.check, p, 'payload');
    if (problem) throw badRequest(problem);
    return await op.run(p);
  } catch (error) {
    const err = toApiError(error);
    if (err.status >= 500) logger.error('sys invoke failed', { error });
    return err.toBody();
  }
});
