/** Block Kit limits that Slack enforces (a message over any of them is refused with invalid_blocks). */
export const BLOCK_LIMITS = {
  /** Blocks in one message. */
  blocks: 50,
  /** Characters in a section's text. */
  sectionText: 3000,
  /** Characters in a context element's text. */
  contextText: 2000,
  /** Characters in a header's text. */
  headerText: 150,
  /** Elements in one actions block. */
  actionsElements: 25,
  /** Characters in a button's text. */
  buttonText: 75,
  /** Characters in a button's value. */
  buttonValue: 2000,
  /** Characters in a message's top-level text. */
  messageText: 40_000,
} as const;

/** Cuts text to `max` characters, ending with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Packs lines into as few section texts as possible, each within the section limit, at most `maxSections`; what
 * does not fit is counted in the returned `left`.
 */
export function packLines(lines: readonly string[], maxSections: number, limit: number = BLOCK_LIMITS.sectionText): {
  texts: string[];
  left: number;
} {
  const texts: string[] = [];
  let current = '';
  let used = 0;
  for (const line of lines) {
    const piece = clip(line, limit);
    const next = current ? `${current}\n${piece}` : piece;
    if (next.length <= limit) {
      current = next;
      used += 1;
      continue;
    }
    if (texts.length + 1 >= maxSections) break;
    texts.push(current);
    current = piece;
    used += 1;
  }
  if (current) texts.push(current);
  return { texts, left: lines.length - used };
}
