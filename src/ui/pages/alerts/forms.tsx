import { TEXT_LIMITS } from '../../../alerts/limits.js';
import type { AlertDetail } from '../../../alerts/review.js';
import { uiPath } from '../../components.js';
import type { UiContext } from '../../kit.js';
import { Csrf } from '../../layout.js';
import { DecisionForm } from './decide.js';
import type { Kept } from './input.js';

// The "Act on it" column of an alert: assign, acknowledge, decide, close and comment. Every form carries
// the alert's version, so a form left open while someone else acted gets the 409 explained instead.

export function ActOnIt(props: { a: AlertDetail; c: UiContext; kept: Kept }) {
  const { a, c, kept } = props;
  const actor = c.get('actor').name;
  const closed = a.status === 'closed';
  const canDecide = a.status === 'open' || a.status === 'acknowledged' || a.status === 'snoozed';
  // As closeAlert allows: a decided alert, or any alert in review once its feature recovered.
  const canClose = a.status === 'decided' || (a.recovered && !closed);
  return (
    <>
      <h2 id="act">Act on it</h2>
      {closed ? (
        <p class="muted">This alert is closed.</p>
      ) : (
        <>
          <form method="post" action={`${uiPath.alert(a.id)}/assign`} class="panel">
            <h3>Assign</h3>
            <Csrf ui={c.get('ui')} />
            <input type="hidden" name="version" value={String(a.version)} />
            <div class="field">
              <label for="assignee">Assignee</label>
              <input
                id="assignee"
                name="assignee"
                type="text"
                value={kept.assignee ?? a.assignee ?? ''}
                placeholder="a name, or empty"
                maxlength={TEXT_LIMITS.assignee}
              />
            </div>
            <button type="submit">Save assignee</button>{' '}
            {a.assignee !== actor ? (
              <button type="submit" name="assign_me" value="yes" id="assign-me">
                Assign to me
              </button>
            ) : null}
          </form>
          {a.status === 'open' ? (
            <form method="post" action={`${uiPath.alert(a.id)}/ack`} class="panel">
              <h3>Acknowledge</h3>
              <Csrf ui={c.get('ui')} />
              <input type="hidden" name="version" value={String(a.version)} />
              <p class="hint">Says someone is looking at it; it stays in the queue until decided.</p>
              <button type="submit">Acknowledge</button>
            </form>
          ) : null}
          {canDecide ? <DecisionForm a={a} c={c} kept={kept} /> : null}
          {canClose ? (
            <form method="post" action={`${uiPath.alert(a.id)}/close`} class="panel">
              <h3>Close</h3>
              <Csrf ui={c.get('ui')} />
              <input type="hidden" name="version" value={String(a.version)} />
              <p class="hint">Ends the review; a new alert opens if the feature drifts again.</p>
              <button type="submit">Close alert</button>
            </form>
          ) : (
            <p class="hint">Closing comes after a decision, or once the feature has recovered.</p>
          )}
        </>
      )}
      <form method="post" action={`${uiPath.alert(a.id)}/comment`} class="panel">
        <h3>Comment</h3>
        <Csrf ui={c.get('ui')} />
        <div class="field">
          <label for="comment">Comment</label>
          <textarea id="comment" name="text" required maxlength={TEXT_LIMITS.text}>
            {kept.text ?? ''}
          </textarea>
        </div>
        <button type="submit">Add comment</button>
      </form>
    </>
  );
}
