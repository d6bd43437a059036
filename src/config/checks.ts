import { DRIFT_DEFAULTS } from './schema.js';

// Cross-field checks on the raw input (before defaults), so a bad key elsewhere does not hide them.

type Levels = { psiWarning?: number; psiCritical?: number };
/** A level's own thresholds; `refused` when it sets one the schema refuses, so its intended pair is unknown. */
type OwnLevels = Levels & { refused?: boolean };

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The thresholds a level sets itself; values the schema refuses are left out (they have their own problem). */
function ownThresholds(raw: unknown): OwnLevels {
  if (!isMapping(raw)) return {};
  const valid = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
  const w = valid(raw.psiWarning);
  const c = valid(raw.psiCritical);
  return {
    ...(w === undefined ? {} : { psiWarning: w }),
    ...(c === undefined ? {} : { psiCritical: c }),
    refused:
      (raw.psiWarning !== undefined && w === undefined) || (raw.psiCritical !== undefined && c === undefined),
  };
}

/**
 * psiCritical below psiWarning, within one level or once merged (defaults < drift < models.<m> <
 * features.<f>). Each problem is reported at the level that introduces it: one setting both says so
 * itself; one setting one of them is compared with what it inherits.
 */
export function thresholdProblems(raw: Record<string, unknown>, fromOf: (path: string) => string): string[] {
  const problems: string[] = [];
  const check = (
    path: string,
    { refused, ...own }: OwnLevels,
    inherited: Required<Levels>,
  ): Required<Levels> => {
    const merged = { ...inherited, ...own };
    if (refused) return merged;
    if (own.psiWarning !== undefined && own.psiCritical !== undefined) {
      if (own.psiCritical < own.psiWarning) {
        problems.push(
          `${path}.psiCritical: psiCritical must be at least psiWarning [from ${fromOf(`${path}.psiCritical`)}]`,
        );
      }
    } else if (
      (own.psiWarning !== undefined || own.psiCritical !== undefined) &&
      merged.psiCritical < merged.psiWarning
    ) {
      problems.push(
        `${path}: psiCritical ${merged.psiCritical} is below psiWarning ${merged.psiWarning} once merged with the levels above`,
      );
    }
    return merged;
  };
  const base = check('drift', ownThresholds(raw.drift), {
    psiWarning: DRIFT_DEFAULTS.psiWarning,
    psiCritical: DRIFT_DEFAULTS.psiCritical,
  });
  if (!isMapping(raw.models)) return problems;
  for (const [model, settings] of Object.entries(raw.models)) {
    const s = check(`models.${model}`, ownThresholds(settings), base);
    const features = isMapping(settings) ? settings.features : undefined;
    if (!isMapping(features)) continue;
    for (const [feature, f] of Object.entries(features))
      check(`models.${model}.features.${feature}`, ownThresholds(f), s);
  }
  return problems;
}

/** Duplicate schedule names and schedules without smtp, on the raw input (see loadConfig). */
export function reportProblems(raw: Record<string, unknown>, fromOf: (path: string) => string): string[] {
  const reports = raw.reports;
  if (!isMapping(reports)) return [];
  const problems: string[] = [];
  if (reports.critical !== undefined && reports.smtp === undefined)
    problems.push(
      `reports.smtp: critical needs an smtp section to send with [from ${fromOf('reports.smtp')}]`,
    );
  if (!Array.isArray(reports.schedules)) return problems;
  const seen = new Set<unknown>();
  reports.schedules.forEach((s: unknown, i) => {
    const name = isMapping(s) ? s.name : undefined;
    if (typeof name === 'string' && seen.has(name))
      problems.push(
        `reports.schedules.${i}.name: schedule ${name} is named twice [from ${fromOf(`reports.schedules.${i}.name`)}]`,
      );
    seen.add(name);
  });
  if (reports.schedules.length > 0 && reports.smtp === undefined)
    problems.push(
      `reports.smtp: schedules need an smtp section to send with [from ${fromOf('reports.smtp')}]`,
    );
  return problems;
}
