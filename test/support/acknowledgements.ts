/**
 * What an acknowledged finding of a template check (cdk-nag, cfn-guard) must
 * carry: a specific reason, not boilerplate, not copied between resources.
 */
import { expect } from 'vitest';

/** an acknowledgement shorter than this is not a reason */
export const MIN_REASON_LENGTH = 40;
const GENERIC_REASON = /^(todo|tbd|n\/?a|none|ok|okay|fine|ignore|ignored|suppress(ed)?|false positive|not (needed|applicable)|accepted|by design)\b/i;

export type Ack = { rule: string; path: string; reason: string; stack: string };

/** Each reason is long enough and not generic; within a stack, one rule on two resources gets two reasons. */
export function expectSpecificReasons(acks: readonly Ack[], stackNames: readonly string[]): void {
  for (const ack of acks) {
    expect(ack.reason.trim().length, `${ack.rule} @ ${ack.path}: "${ack.reason}"`).toBeGreaterThanOrEqual(MIN_REASON_LENGTH);
    expect(ack.reason, `${ack.rule} @ ${ack.path}`).not.toMatch(GENERIC_REASON);
  }
  for (const stack of stackNames) {
    const seen = new Map<string, string>();
    for (const ack of acks.filter((a) => a.stack === stack)) {
      const key = `${ack.rule}\n${ack.reason}`;
      expect(seen.get(key), `${ack.rule} @ ${ack.path} reuses the reason of ${seen.get(key)}`).toBeUndefined();
      seen.set(key, ack.path);
    }
  }
}
