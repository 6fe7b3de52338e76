import { type ListenTarget, listen } from '../commons/operations.ts';
import { wsAction } from '../commons/ws.ts';
import { badRequest } from '../core/errors.ts';
import { wsListen } from '../core/validators.generated.js';

export const handler = wsAction<ListenTarget & Record<string, unknown>>(
  {
    schema: wsListen,
    precheck: (msg) => {
      const given = ['friends', 'groupId', 'userIds'].filter((k) => msg[k] !== undefined);
      if (given.length !== 1) throw badRequest('listen takes exactly one of "friends": true, "groupId" or "userIds"');
    },
  },
  (msg, who) => {
    const target: ListenTarget = msg.friends ? { friends: true } : msg.groupId ? { groupId: msg.groupId as string } : { userIds: msg.userIds as string[] };
    return listen(who, target, msg.bidirectional === true);
  },
);
