import type { Hono } from 'hono';
import { type Decision, decideAlert, previewDecision } from '../../../alerts/decisions.js';
import { ackAlert, assignAlert, closeAlert, commentAlert } from '../../../alerts/review.js';
import { ApiError } from '../../../errors.js';
import { uiPath } from '../../components.js';
import { explain, field, idParam, needs, type UiContext, type UiEnv } from '../../kit.js';
import { confirmPage, DECISIONS, snoozeTime } from './decide.js';
import { detailPage } from './detail.js';
import { type Kept, keptInput, versionField } from './input.js';
import { queuePage } from './queue.js';

// The review queue (/ui/alerts) and one alert (/ui/alerts/:id): which URL renders what, and what each form
// does when posted. Every form carries the alert's version, so a form left open while someone else acted
// gets the API's 409 explained instead of overwriting their change.

const DONE: Record<string, string> = {
  assigned: 'Assignment saved.',
  acknowledged: 'Alert acknowledged.',
  commented: 'Comment added.',
  decided: 'Decision recorded.',
  closed: 'Alert closed.',
};

export function registerAlertPages(ui: Hono<UiEnv>): void {
  ui.get('/alerts', needs('reviewer'), queuePage);
  ui.get('/alerts/:id', needs('reviewer'), async (c) => {
    const done = DONE[c.req.query('done') ?? ''];
    // Back from a confirmation page: the decision and note as they were typed.
    const kept: Kept = { decision: c.req.query('decision') ?? '', note: c.req.query('note') ?? '' };
    return detailPage(c, idParam(c), done ? { kind: 'ok', title: done } : null, 200, kept);
  });

  // Each form: carry out the change, then Post/Redirect/Get back to the alert; an API refusal is shown on
  // the alert page with what was typed kept in the form.
  const act = (
    name: string,
    run: (c: UiContext, id: number, version: number | undefined, actor: string) => Promise<unknown>,
  ) =>
    ui.post(`/alerts/:id/${name}`, needs('reviewer'), async (c) => {
      const id = idParam(c);
      const version = versionField(c);
      try {
        await run(c, id, version, c.get('actor').name);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        return detailPage(c, id, explain(err), statusFor(err), keptInput(c));
      }
      return c.redirect(`${uiPath.alert(id)}?done=${doneKey(name)}`, 303);
    });

  act('assign', (c, id, version, actor) => {
    // "Assign to me" is a second submit button of the same form.
    const to =
      field(c, 'assign_me') === 'yes' ? '@me' : field(c, 'assignee') === '' ? null : field(c, 'assignee');
    return assignAlert(c.get('deps'), {
      id,
      version,
      actor,
      assignee: to === '@me' ? actor : to,
      note: field(c, 'note') || undefined,
    });
  });
  act('ack', (c, id, version, actor) =>
    ackAlert(c.get('deps'), { id, version, actor, note: field(c, 'note') || undefined }),
  );
  act('comment', (c, id, _version, actor) => {
    const text = field(c, 'text');
    if (text === '') throw new ApiError('bad_request', 'the comment is empty');
    return commentAlert(c.get('deps'), { id, actor, text });
  });
  act('close', (c, id, version, actor) =>
    closeAlert(c.get('deps'), { id, version, actor, note: field(c, 'note') || undefined }),
  );

  // A decision takes two steps: the first POST states its effect and asks to confirm, the second (with
  // confirm=yes) records it.
  ui.post('/alerts/:id/decide', needs('reviewer'), async (c) => {
    const id = idParam(c);
    const version = versionField(c);
    const actor = c.get('actor').name;
    const deps = c.get('deps');
    const decision = field(c, 'decision') as Decision;
    const note = field(c, 'note');
    const raiseThresholds = field(c, 'raise_thresholds') === 'yes';
    try {
      if (!DECISIONS.some((d) => d.value === decision)) {
        throw new ApiError(
          'bad_request',
          'choose a decision: retrain, accept shift, roll back, false positive or snooze',
        );
      }
      if (note === '') throw new ApiError('bad_request', 'a note is required: say why, for the audit trail');
      const snoozeUntil = decision === 'snooze' ? snoozeTime(field(c, 'snooze_until')) : undefined;
      const input = { id, version, decision, snoozeUntil, raiseThresholds, actor };
      if (field(c, 'confirm') !== 'yes') {
        const preview = await previewDecision(deps, input);
        return confirmPage(c, id, version, preview, note, field(c, 'snooze_until'), raiseThresholds);
      }
      await decideAlert(deps, { ...input, note, confirm: true });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return detailPage(c, id, explain(err), statusFor(err), keptInput(c));
    }
    return c.redirect(`${uiPath.alert(id)}?done=decided`, 303);
  });
}

const doneKey = (action: string) =>
  ({ assign: 'assigned', ack: 'acknowledged', comment: 'commented', close: 'closed' })[action] ?? action;

function statusFor(err: ApiError): 400 | 403 | 404 | 409 | 422 {
  const s = err.status;
  return s === 403 || s === 404 || s === 409 || s === 422 ? s : 400;
}
