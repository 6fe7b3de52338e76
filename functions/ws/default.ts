/** `$default`: messages whose action matches no route (or that are not JSON) get an error reply. */
import { wsAction } from '../commons/ws.ts';
import { badRequest } from '../core/errors.ts';

export const handler = wsAction<{ action?: unknown }>({}, async (msg) => {
  if (typeof msg.action !== 'string') throw badRequest('Message needs an "action"');
  throw badRequest(`Unknown action "${msg.action.slice(0, 64)}"`);
});
