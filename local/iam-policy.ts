/**
 * IAM policy evaluation for the local stack, kept to what the synthesized
 * template uses: identity policies of a function's role, statements with
 * Effect Allow/Deny, Action and Resource (strings or lists, `*` and `?`
 * wildcards), NotAction/NotResource, and no Condition (a statement with a
 * condition is refused loudly: the evaluator would have to learn it first).
 * The rules, from AWS's policy evaluation logic
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 * an explicit Deny wins; else an Allow allows; else the request is implicitly
 * denied. Action names match case-insensitively, resource ARNs
 * case-sensitively, and `*` matches any run of characters including `/` and
 * `:` (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
 *
 * Why not a library: the one complete evaluator on npm (@cloud-copilot/iam-simulate)
 * is AGPL-3.0 and installs 19 MB of IAM data; this template needs ~40 lines.
 */
export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: unknown;
}

export type Decision = { decision: 'allow'; statement: Statement } | { decision: 'explicit-deny'; statement: Statement } | { decision: 'implicit-deny' };

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** compiled patterns: every SDK call of every function is checked against the same few */
const compiled = new Map<string, RegExp>();

/** IAM's wildcard match: `*` any run of characters, `?` any one character, everything else literal. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const flags = caseInsensitive ? 'is' : 's';
  let re = compiled.get(`${flags} ${pattern}`);
  if (!re) {
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${source}$`, flags);
    compiled.set(`${flags} ${pattern}`, re);
  }
  return re.test(value);
}

function applies(s: Statement, action: string, resource: string): boolean {
  if (s.Condition !== undefined) throw new Error(`IAM statement ${s.Sid ?? ''} has a Condition: the local evaluator does not know conditions`);
  const actionMatch =
    s.Action !== undefined ? list(s.Action).some((a) => wildcardMatch(a, action, true)) : !list(s.NotAction).some((a) => wildcardMatch(a, action, true));
  if (!actionMatch) return false;
  return s.Resource !== undefined ? list(s.Resource).some((r) => wildcardMatch(r, resource)) : !list(s.NotResource).some((r) => wildcardMatch(r, resource));
}

/** The decision for one action on one resource under a principal's identity policies. */
export function evaluate(statements: readonly Statement[], action: string, resource: string): Decision {
  let allow: Statement | undefined;
  for (const s of statements) {
    if (!applies(s, action, resource)) continue;
    if (s.Effect === 'Deny') return { decision: 'explicit-deny', statement: s };
    allow ??= s;
  }
  return allow ? { decision: 'allow', statement: allow } : { decision: 'implicit-deny' };
}
