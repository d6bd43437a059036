import type { Child } from 'hono/jsx';
import { assetUrl } from './assets.js';
import type { UiState } from './session.js';

export type Section = 'overview' | 'alerts' | 'retrain' | 'models' | 'docs' | 'none';

const NAV: { href: string; label: string; section: Section }[] = [
  { href: '/ui', label: 'Overview', section: 'overview' },
  { href: '/ui/alerts', label: 'Alerts', section: 'alerts' },
  { href: '/ui/retrain', label: 'Retrain requests', section: 'retrain' },
  { href: '/docs', label: 'API reference', section: 'docs' },
];

export interface Flash {
  kind: 'ok' | 'error' | 'warn' | 'info';
  title: string;
  body?: Child;
}

/** The page shell: skip link, top bar with navigation and the signed-in actor, a main landmark. */
export function Layout(props: {
  title: string;
  ui: UiState;
  section: Section;
  children?: Child;
  flash?: Flash | null;
  crumbs?: { href?: string; label: string }[];
}) {
  const { ui } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        {/* No favicon request (and no 404 in the console). */}
        <link rel="icon" href="data:," />
        <title>{`${props.title} · driftwatch`}</title>
        <link rel="stylesheet" href={assetUrl('ui.css')} />
        <script src={assetUrl('ui.js')} defer />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/ui">
            driftwatch
          </a>
          <nav aria-label="Main">
            <ul>
              {NAV.map((n) => (
                <li>
                  <a href={n.href} aria-current={n.section === props.section ? 'page' : undefined}>
                    {n.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          {ui.actor ? (
            <div class="who">
              <span>
                {ui.open ? 'open mode (no tokens configured)' : `${ui.actor.name} · ${ui.actor.role}`}
              </span>
              {ui.open ? null : (
                <form method="post" action="/ui/logout" class="inline-form">
                  <input type="hidden" name="_csrf" value={ui.csrf} />
                  <button type="submit">Sign out</button>
                </form>
              )}
            </div>
          ) : null}
        </header>
        <main id="main" tabindex={-1}>
          {props.crumbs ? (
            <nav class="crumbs" aria-label="Breadcrumb">
              {props.crumbs.map((c, i) => (
                <>
                  {i > 0 ? ' / ' : ''}
                  {c.href ? <a href={c.href}>{c.label}</a> : <span aria-current="page">{c.label}</span>}
                </>
              ))}
            </nav>
          ) : null}
          <h1>{props.title}</h1>
          {props.flash ? <Notice flash={props.flash} /> : null}
          {props.children}
        </main>
      </body>
    </html>
  );
}

export function Notice(props: { flash: Flash }) {
  const { flash } = props;
  return (
    <div class={`notice ${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'}>
      <p>
        <strong>{flash.title}</strong>
      </p>
      {flash.body ? <div>{flash.body}</div> : null}
    </div>
  );
}

/** The hidden CSRF field every form carries. */
export function Csrf(props: { ui: UiState }) {
  return <input type="hidden" name="_csrf" value={props.ui.csrf} />;
}
