/**
 * IAM enforced from the template: every AWS SDK call a function makes
 * locally is checked against that function's role policies as synthesized,
 * and a call they do not allow fails with the error the SDK raises on AWS.
 * Shown by taking one grant out of a synthesized policy: exactly that call
 * fails (and the function's other calls still work).
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Checked } from '../../local/iam.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { type CfnTemplate, functionsById, synthesizedTemplate } from '../../local/template.ts';
import { api, connect, isPushOf, SECRET, sleep, token } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';

// one stack at a time, on the same tables: the handler modules (and what they read at import) are shared by the file
let running: LocalStack | undefined;
afterAll(async () => {
  await running?.stop();
});

/** The synthesized template with `action` taken out of the statements of function `fn`'s role. */
function without(fn: string, action: string): CfnTemplate {
  const template = structuredClone(synthesizedTemplate());
  const R = template.Resources;
  const fnResource = functionsById(template).get(fn);
  const role = fnResource?.Properties?.Role['Fn::GetAtt'][0];
  let removed = 0;
  for (const r of Object.values(R)) {
    if (r.Type !== 'AWS::IAM::Policy' || !r.Properties?.Roles.some((x: { Ref?: string }) => x.Ref === role)) continue;
    for (const s of r.Properties.PolicyDocument.Statement) {
      const actions = [s.Action].flat();
      if (!actions.includes(action)) continue;
      s.Action = actions.filter((a: string) => a !== action);
      removed++;
    }
  }
  expect(removed, `${action} granted to ${fn}`).toBeGreaterThan(0);
  return template;
}

async function stackWith(template: CfnTemplate): Promise<LocalStack> {
  await running?.stop();
  const stack = await startLocalStack({
    httpPort: await freePort(),
    wsPort: await freePort(),
    dynamodbEndpoint: inject('dynamodbEndpoint'),
    tablePrefix: `iam_${process.env.TABLE_SUFFIX}_`,
    jwtSecret: SECRET,
    template,
  });
  running = stack;
  return stack;
}

const denied = (checks: Checked[], fn: string, action: string) => checks.filter((c) => c.fn === fn && c.action === action && c.decision !== 'allow');

describe('IAM enforced from the synthesized template', () => {
  it('PATCH fails with AccessDenied on exactly dynamodb:PutItem when the route loses that grant; its GetItem still works', async () => {
    const stack = await stackWith(without('PatchOwnPresence', 'dynamodb:PutItem'));
    const call = api(stack);
    // a visibility change always takes the read-modify-write (a custom status would try one conditional UpdateItem first)
    const res = await call('PATCH', '/v1/me/presence', token('iam-u'), { visibility: 'friends' });
    expect(res).toMatchObject({ status: 500, body: { error: 'internal' } });
    const checks = await stack.iamChecks();
    expect(denied(checks, 'PatchOwnPresence', 'dynamodb:PutItem')).toEqual([
      {
        fn: 'PatchOwnPresence',
        action: 'dynamodb:PutItem',
        resource: expect.stringMatching(/^arn:aws:dynamodb:local:000000000000:table\/iam_.*Presence$/),
        decision: 'implicit-deny',
      },
    ]);
    // the same function's read was allowed; every other route is untouched
    expect(checks.some((c) => c.fn === 'PatchOwnPresence' && c.action === 'dynamodb:GetItem' && c.decision === 'allow')).toBe(true);
    expect((await call('PUT', '/v1/me/devices/web', token('iam-u'), { status: 'online' })).status).toBe(200);
    expect(checks.filter((c) => c.decision !== 'allow')).toHaveLength(1);
  });

  it("a compatibility facade's calls are checked against its own function's policy: without dynamodb:PutItem its status update fails, in its error shape", async () => {
    const stack = await stackWith(without('CompatGeneric', 'dynamodb:PutItem'));
    const res = await fetch(`${stack.httpUrl}/users/me/status`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token('iam-g')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ is_busy: true }),
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ detail: 'Internal server error' });
    const checks = await stack.iamChecks();
    expect(denied(checks, 'CompatGeneric', 'dynamodb:PutItem')).toHaveLength(1);
    expect(checks.some((c) => c.fn === 'CompatGeneric' && c.action === 'dynamodb:GetItem' && c.decision === 'allow')).toBe(true);
    // its other calls, and the contract's own routes, are untouched: a heartbeat of a live device is one UpdateItem
    expect((await api(stack)('POST', '/v1/me/heartbeat', token('iam-h'), {})).status).toBe(200);
    const beat = await fetch(`${stack.httpUrl}/users/me/heartbeat`, { method: 'POST', headers: { authorization: `Bearer ${token('iam-h')}` } });
    expect(beat.status).toBe(200);
    expect((await api(stack)('PATCH', '/v1/me/presence', token('iam-g'), { availability: 'busy' })).status).toBe(200);
    expect((await stack.iamChecks()).filter((c) => c.decision !== 'allow')).toHaveLength(1);
  });

  it('pushes stop when the stream function loses execute-api:ManageConnections (403 from @connections), and nothing else fails', async () => {
    const stack = await stackWith(without('StreamFanout', 'execute-api:ManageConnections'));
    const call = api(stack);
    await call('POST', '/v1/me/subscriptions', token('iam-a'), { userIds: ['iam-b'] });
    const a = await connect(stack, token('iam-a'));
    await call('PATCH', '/v1/me/presence', token('iam-b'), { customStatus: 'unseen' });
    let checks: Checked[] = [];
    for (let i = 0; i < 200 && denied(checks, 'StreamFanout', 'execute-api:ManageConnections').length === 0; i++) {
      await sleep(50);
      checks = await stack.iamChecks();
    }
    expect(denied(checks, 'StreamFanout', 'execute-api:ManageConnections')[0]).toMatchObject({
      resource: expect.stringMatching(/^arn:aws:execute-api:local:000000000000:local\/live\/POST\/@connections\/.+/),
      decision: 'implicit-deny',
    });
    expect(a.pushes().filter(isPushOf('iam-b'))).toEqual([]);
    // the stream reads (with StreamFanout's role, as the event source mapping reads) were allowed
    expect(checks.some((c) => c.fn === 'StreamFanout' && c.action === 'dynamodb:GetRecords' && c.decision === 'allow')).toBe(true);
    await a.close();
  });
});
