import { field, type UiContext } from '../../kit.js';

// What a submitted alert form carried: its version, and what was typed, kept for the page that shows a
// refusal so nothing has to be typed again.

/** The alert version the form was rendered with; undefined when absent or not a number. */
export function versionField(c: UiContext): number | undefined {
  const v = field(c, 'version');
  return /^[0-9]{1,9}$/.test(v) ? Number(v) : undefined;
}

export interface Kept {
  raise_thresholds?: boolean;
  note?: string;
  text?: string;
  decision?: string;
  snooze_until?: string;
  assignee?: string;
}

export const keptInput = (c: UiContext): Kept => ({
  raise_thresholds: field(c, 'raise_thresholds') === 'yes',
  note: field(c, 'note'),
  text: field(c, 'text'),
  decision: field(c, 'decision'),
  snooze_until: field(c, 'snooze_until'),
  assignee: field(c, 'assignee'),
});
