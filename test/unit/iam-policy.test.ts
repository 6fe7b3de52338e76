/**
 * The local IAM evaluator against AWS's documented rules and examples
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
 * reference_policies_elements_resource.html, reference_policies_elements_action.html), and the mapping
 * from SDK requests to the actions and resources AWS authorizes.
 */
import { describe, expect, it } from 'vitest';
import { permissionsFor } from '../../local/iam.ts';
import { evaluate, type Statement, wildcardMatch } from '../../local/iam-policy.ts';

const allow = (Action: string | string[], Resource: string | string[]): Statement => ({ Effect: 'Allow', Action, Resource });

describe('policy evaluation', () => {
  it('denies by default, allows with a matching Allow, and an explicit Deny overrides any Allow', () => {
    expect(evaluate([], 'dynamodb:GetItem', 'arn:aws:dynamodb:us-east-1:123456789012:table/Books').decision).toBe('implicit-deny');
    const books = 'arn:aws:dynamodb:us-east-1:123456789012:table/Books';
    expect(evaluate([allow('dynamodb:GetItem', books)], 'dynamodb:GetItem', books).decision).toBe('allow');
    expect(
      evaluate([allow('dynamodb:*', '*'), { Effect: 'Deny', Action: 'dynamodb:DeleteItem', Resource: books }], 'dynamodb:DeleteItem', books).decision,
    ).toBe('explicit-deny');
    // a Deny that does not match leaves the Allow standing
    expect(evaluate([allow('dynamodb:*', '*'), { Effect: 'Deny', Action: 'dynamodb:DeleteItem', Resource: books }], 'dynamodb:GetItem', books).decision).toBe(
      'allow',
    );
  });

  it('matches action names case-insensitively and with wildcards, resources case-sensitively', () => {
    const r = 'arn:aws:dynamodb:us-east-1:123456789012:table/Books';
    expect(evaluate([allow('DynamoDB:getitem', r)], 'dynamodb:GetItem', r).decision).toBe('allow');
    expect(evaluate([allow('dynamodb:Get*', r)], 'dynamodb:GetItem', r).decision).toBe('allow');
    expect(evaluate([allow('dynamodb:Get*', r)], 'dynamodb:PutItem', r).decision).toBe('implicit-deny');
    expect(evaluate([allow('dynamodb:GetItem', r.toLowerCase())], 'dynamodb:GetItem', r).decision).toBe('implicit-deny');
  });

  it('lets * span ARN segments and ? stand for one character, as the Resource element does', () => {
    // the documented API Gateway management example: any connection of any stage, POST only
    const p = allow('execute-api:ManageConnections', 'arn:aws:execute-api:us-east-1:123456789012:a1b2c3/*/POST/@connections/*');
    expect(evaluate([p], 'execute-api:ManageConnections', 'arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/POST/@connections/Zx9=').decision).toBe(
      'allow',
    );
    expect(evaluate([p], 'execute-api:ManageConnections', 'arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/DELETE/@connections/Zx9=').decision).toBe(
      'implicit-deny',
    );
    // a table's indexes: table/Books/index/*
    expect(wildcardMatch('arn:aws:dynamodb:*:*:table/Books/index/*', 'arn:aws:dynamodb:eu-west-1:1:table/Books/index/byAuthor')).toBe(true);
    expect(wildcardMatch('arn:aws:dynamodb:*:*:table/Books/index/*', 'arn:aws:dynamodb:eu-west-1:1:table/Books')).toBe(false);
    expect(wildcardMatch('arn:aws:s3:::bucket-?', 'arn:aws:s3:::bucket-a')).toBe(true);
    expect(wildcardMatch('arn:aws:s3:::bucket-?', 'arn:aws:s3:::bucket-ab')).toBe(false);
    // regular-expression characters in a policy are literal
    expect(wildcardMatch('arn:aws:sqs:us-east-1:1:q.fifo', 'arn:aws:sqs:us-east-1:1:qxfifo')).toBe(false);
  });

  it('honours NotAction and NotResource', () => {
    const r = 'arn:aws:dynamodb:us-east-1:1:table/T';
    expect(evaluate([{ Effect: 'Allow', NotAction: 'dynamodb:DeleteItem', Resource: '*' }], 'dynamodb:PutItem', r).decision).toBe('allow');
    expect(evaluate([{ Effect: 'Allow', NotAction: 'dynamodb:DeleteItem', Resource: '*' }], 'dynamodb:DeleteItem', r).decision).toBe('implicit-deny');
    expect(evaluate([{ Effect: 'Allow', Action: '*', NotResource: r }], 'dynamodb:GetItem', r).decision).toBe('implicit-deny');
  });

  it('refuses to guess a statement with a condition', () => {
    expect(() => evaluate([{ ...allow('s3:GetObject', '*'), Condition: { Bool: { 'aws:SecureTransport': 'true' } } }], 's3:GetObject', 'x')).toThrow(
      /Condition/,
    );
  });
});

describe('SDK requests as IAM authorizes them', () => {
  const json = (target: string, body: unknown) => ({ method: 'POST', path: '/', headers: { 'x-amz-target': target }, body: JSON.stringify(body) });
  const table = (name: string) => `arn:aws:dynamodb:local:000000000000:table/${name}`;

  it('DynamoDB: the table, or the index a Query reads; each table of a batch; each item action of a transaction', () => {
    expect(permissionsFor(json('DynamoDB_20120810.PutItem', { TableName: 'P' }), 'live', 'api')).toEqual([
      { action: 'dynamodb:PutItem', resource: table('P') },
    ]);
    expect(permissionsFor(json('DynamoDB_20120810.Query', { TableName: 'G', IndexName: 'byWatchedUser' }), 'live', 'api')).toEqual([
      { action: 'dynamodb:Query', resource: `${table('G')}/index/byWatchedUser` },
    ]);
    expect(permissionsFor(json('DynamoDB_20120810.BatchGetItem', { RequestItems: { P: {}, G: {} } }), 'live', 'api')).toEqual([
      { action: 'dynamodb:BatchGetItem', resource: table('P') },
      { action: 'dynamodb:BatchGetItem', resource: table('G') },
    ]);
    expect(
      permissionsFor(
        json('DynamoDB_20120810.TransactWriteItems', {
          TransactItems: [{ Put: { TableName: 'G' } }, { Delete: { TableName: 'G' } }, { Put: { TableName: 'P' } }],
        }),
        'live',
        'api',
      ),
    ).toEqual([
      { action: 'dynamodb:PutItem', resource: table('G') },
      { action: 'dynamodb:DeleteItem', resource: table('G') },
      { action: 'dynamodb:PutItem', resource: table('P') },
    ]);
  });

  it('streams, SQS and @connections', () => {
    const stream = 'arn:aws:dynamodb:ddblocal:000000000000:table/P/stream/2026-12-02T00:00:00.000';
    expect(permissionsFor(json('DynamoDBStreams_20120810.GetRecords', { ShardIterator: `${stream}|001|abc` }), 'live', 'api')).toEqual([
      { action: 'dynamodb:GetRecords', resource: stream },
    ]);
    expect(permissionsFor(json('AmazonSQS.SendMessageBatch', { QueueUrl: 'http://127.0.0.1:9/000000000000/chunks' }), 'live', 'api')).toEqual([
      { action: 'sqs:SendMessage', resource: 'arn:aws:sqs:local:000000000000:chunks' },
    ]);
    expect(permissionsFor({ method: 'POST', path: '/@connections/abc%3D', headers: {}, body: '{}' }, 'live', 'api')).toEqual([
      { action: 'execute-api:ManageConnections', resource: 'arn:aws:execute-api:local:000000000000:api/live/POST/@connections/abc=' },
    ]);
    expect(permissionsFor({ method: 'GET', path: '/v1/other', headers: {}, body: '' }, 'live', 'api')).toBeUndefined();
  });
});
