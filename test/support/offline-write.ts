/**
 * Writes presence changes straight through the operations (the handlers'
 * own code) while no stack runs: changes that exist in the table and its
 * stream but that no consumer has seen, as when a stack dies right after a
 * write. Run in its own process (the handlers read their tables and
 * endpoint at import):
 *   AWS_ENDPOINT_URL_DYNAMODB=… PRESENCE_TABLE=… GRAPH_TABLE=… node --import tsx test/support/offline-write.ts '[["bob",{"customStatus":"x"}]]'
 */
import { updatePresence } from '../../functions/commons/operations.ts';
import type { PresencePatch } from '../../functions/core/presence.ts';

const changes = JSON.parse(process.argv[2] ?? '[]') as [string, PresencePatch][];
for (const [userId, patch] of changes) {
  const own = await updatePresence(userId, patch);
  console.log(JSON.stringify({ userId, version: own.version }));
}
