import type { Child } from 'hono/jsx';
import { field, page, type UiContext } from '../kit.js';
import { Csrf } from '../layout.js';

// Two-step admin actions: the first POST (without confirm=yes) answers with what the action will do and a
// Confirm button that sends the same form again with confirm=yes; Cancel goes back to the list.

export const confirmed = (c: UiContext): boolean => field(c, 'confirm') === 'yes';

export function confirmPage(
  c: UiContext,
  o: {
    title: string;
    crumbs: { href?: string; label: string }[];
    effect: Child;
    action: string;
    fields?: Record<string, string>;
    button: string;
    danger?: boolean;
    cancel: string;
  },
) {
  return page(
    c,
    { title: o.title, section: 'models', crumbs: o.crumbs },
    <form method="post" action={o.action} class="panel narrow">
      <Csrf ui={c.get('ui')} />
      <input type="hidden" name="confirm" value="yes" />
      {Object.entries(o.fields ?? {}).map(([k, v]) => (
        <input type="hidden" name={k} value={v} />
      ))}
      <div class="confirm" role="status">
        <p>
          <strong>This will:</strong>
        </p>
        {o.effect}
      </div>
      <div class="actions">
        <button type="submit" class={o.danger ? 'danger' : 'primary'}>
          {o.button}
        </button>
        <a class="button" href={o.cancel}>
          Cancel
        </a>
      </div>
    </form>,
  );
}
