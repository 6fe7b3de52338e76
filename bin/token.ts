/**
 * Prints a token for a user, on stdout and nothing else there:
 *
 *   npm run token -- <userId> [scope] [--scope "presence:sys presence:admin"] [--ttl 3600]
 *     a local HS256 token signed with PRESENCE_JWT_SECRET (dev default
 *     `local-dev-secret`), for the local stack. (aws-jwt-verify has no HS256:
 *     these are verified by the thin local path of functions/commons/auth.ts.)
 *
 *   npm run token -- <user> [scope] --stack [--stack-name Presence]
 *     an access token of the Cognito user pool that `cdk deploy -c auth=cognito`
 *     created, read from the stack's outputs (CloudFormation DescribeStacks):
 *     creates the user if missing (admin API, no e-mail sent), gives it a
 *     fresh random password, puts it in exactly the groups named like the
 *     requested scopes (the pool's trigger turns them into the token's
 *     scopes) and signs it in with ADMIN_USER_PASSWORD_AUTH. The token's
 *     subject, the presence userId, is the user's Cognito `sub` (a UUID),
 *     printed on stderr. Uses the AWS SDK's default credentials and region.
 *
 * The positional scope makes it usable as the smoke suite's token command,
 * which runs `<cmd> <user> [scope]` (smoke/tokens.ts).
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { signUserToken } from '../functions/core/jwt.ts';
import { USER_ID_PATTERN } from '../functions/core/schemas.ts';
import { SCOPES } from '../lib/routes.ts';

export const USAGE = `usage: npm run token -- <userId> [scope] [--scope "presence:sys presence:admin"] [--ttl seconds]
       npm run token -- <user> [scope] --stack [--stack-name Presence]`;

export interface TokenArgs {
  userId: string;
  scopes: string[];
  /** local tokens only */
  ttlSeconds: number;
  /** with --stack: the CloudFormation stack whose Cognito user pool signs the token */
  stackName?: string;
}

/** Parses the command line (without node and the script); throws with the usage on anything it does not take. */
export function parseTokenArgs(argv: readonly string[]): TokenArgs {
  const args = [...argv];
  const fail = (why: string): never => {
    throw new Error(`${why}\n${USAGE}`);
  };
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i >= 0) args.splice(i, 1);
    return i >= 0;
  };
  const option = (name: string) => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) fail(`${name} needs a value`);
    args.splice(i, 2);
    return v;
  };
  const stack = flag('--stack');
  const stackName = option('--stack-name');
  const scopeOption = option('--scope');
  const ttlOption = option('--ttl');
  const unknown = args.find((a) => a.startsWith('--'));
  if (unknown) fail(`unknown option ${unknown}`);
  if (args.length === 0) fail('missing <userId>');
  if (args.length > 2) fail(`too many arguments: ${args.join(' ')}`);
  const [userId, scopeArg] = args as [string, string | undefined];
  if (!new RegExp(USER_ID_PATTERN).test(userId)) fail(`not a valid userId: ${userId}`);
  const scopes = [...new Set([scopeArg, scopeOption].flatMap((s) => (s ?? '').split(' ')).filter(Boolean))];
  const ttlSeconds = Number(ttlOption ?? 86_400);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) fail(`--ttl takes whole seconds: ${ttlOption}`);
  if (stackName !== undefined && !stack) fail('--stack-name goes with --stack');
  if (!stack) return { userId, scopes, ttlSeconds };
  if (ttlOption !== undefined) fail('--ttl is for local tokens: the user pool client sets the lifetime of --stack tokens (1 hour)');
  const known = Object.values(SCOPES).filter((s) => s !== null);
  const other = scopes.find((s) => !known.includes(s));
  if (other) fail(`the user pool grants only ${known.join(', ')}, not ${other}`);
  return { userId, scopes, ttlSeconds, stackName: stackName ?? 'Presence' };
}

/** A password the pool's policy accepts (16+ characters with lower and upper case, digits and symbols), never stored. */
export const randomPassword = (): string => `${randomBytes(21).toString('base64url')}aZ7!`;

/** Signs `userId` in through the stack's user pool (see the header) and returns its access token. */
async function cognitoAccessToken(userId: string, scopes: string[], stackName: string): Promise<string> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cip = await import('@aws-sdk/client-cognito-identity-provider');
  const described = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = new Map((described.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  const UserPoolId = outputs.get('UserPoolId');
  const ClientId = outputs.get('UserPoolClientId');
  if (!UserPoolId || !ClientId) throw new Error(`stack ${stackName} has no UserPoolId/UserPoolClientId outputs: deploy it with -c auth=cognito`);

  const cognito = new cip.CognitoIdentityProviderClient({});
  try {
    await cognito.send(new cip.AdminCreateUserCommand({ UserPoolId, Username: userId, MessageAction: 'SUPPRESS' }));
  } catch (err) {
    if (!(err instanceof cip.UsernameExistsException)) throw err;
  }
  const password = randomPassword();
  await cognito.send(new cip.AdminSetUserPasswordCommand({ UserPoolId, Username: userId, Password: password, Permanent: true }));
  const groups = new Set<string>();
  for (let NextToken: string | undefined, first = true; first || NextToken; first = false) {
    const page = await cognito.send(new cip.AdminListGroupsForUserCommand({ UserPoolId, Username: userId, NextToken }));
    for (const g of page.Groups ?? []) if (g.GroupName) groups.add(g.GroupName);
    NextToken = page.NextToken;
  }
  for (const scope of Object.values(SCOPES).filter((s) => s !== null)) {
    const input = { UserPoolId, Username: userId, GroupName: scope };
    if (scopes.includes(scope) && !groups.has(scope)) await cognito.send(new cip.AdminAddUserToGroupCommand(input));
    if (!scopes.includes(scope) && groups.has(scope)) await cognito.send(new cip.AdminRemoveUserFromGroupCommand(input));
  }
  const auth = await cognito.send(
    new cip.AdminInitiateAuthCommand({
      UserPoolId,
      ClientId,
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: userId, PASSWORD: password },
    }),
  );
  const token = auth.AuthenticationResult?.AccessToken;
  if (!token) throw new Error(`the user pool answered a ${auth.ChallengeName ?? 'reply without tokens'} instead of tokens`);
  const sub = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).sub;
  console.error(`${userId}: sub ${sub}${scopes.length ? `, scope ${scopes.join(' ')}` : ''}`);
  return token;
}

async function main(): Promise<void> {
  let args: TokenArgs;
  try {
    args = parseTokenArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  if (args.stackName !== undefined) {
    try {
      console.log(await cognitoAccessToken(args.userId, args.scopes, args.stackName));
    } catch (err) {
      console.error(`npm run token -- --stack: ${(err as Error).name}: ${(err as Error).message}`);
      process.exit(1);
    }
    return;
  }
  const scope = args.scopes.length ? args.scopes.join(' ') : undefined;
  console.log(signUserToken(args.userId, process.env.PRESENCE_JWT_SECRET || 'local-dev-secret', { ttlSeconds: args.ttlSeconds, scope }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
