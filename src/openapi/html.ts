// GET /docs: the OpenAPI document as one plain HTML page, rendered on the server. No script, no external
// style or font: it works offline and without JavaScript. Everything shown comes from the document.
import type { OpenApiDocument, Operation, Parameter } from './document.js';

type Json = Record<string, unknown>;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (ch) => ESCAPES[ch] as string);

/** The little Markdown the descriptions use: `code` spans, paragraphs. */
function prose(text: string | undefined): string {
  if (!text) return '';
  return text
    .split(/\n\n+/)
    .map((p) => `<p>${escapeHtml(p).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>`)
    .join('\n');
}

function typeOf(s: Json): string {
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (Array.isArray(alts)) return alts.map(typeOf).join(' or ');
  const t = s.type;
  const base = Array.isArray(t) ? t.join(' or ') : typeof t === 'string' ? t : 'any';
  if (base === 'array' && s.items && typeof s.items === 'object')
    return `array of ${typeOf(s.items as Json)}`;
  return base;
}

function constraints(s: Json): string[] {
  const out: string[] = [];
  const c = (key: string, label: string) => {
    if (s[key] !== undefined) out.push(`${label} ${JSON.stringify(s[key])}`);
  };
  c('minimum', '≥');
  c('exclusiveMinimum', '>');
  c('maximum', '≤');
  c('exclusiveMaximum', '<');
  c('minLength', 'length ≥');
  c('maxLength', 'length ≤');
  c('minItems', 'items ≥');
  c('maxItems', 'items ≤');
  c('pattern', 'matches');
  c('format', 'format');
  c('default', 'default');
  return out;
}

interface Row {
  path: string;
  required: boolean;
  type: string;
  notes: string[];
  description: string;
}

/** An object schema's fields as rows, nested objects and arrays of objects flattened (`labels[].model`). */
function rows(s: Json, prefix: string, out: Row[], depth = 0): Row[] {
  if (depth > 6) return out;
  const target = s.type === 'array' && s.items && typeof s.items === 'object' ? (s.items as Json) : s;
  const nested = target === s ? prefix : `${prefix}[]`;
  const props = target.properties as Record<string, Json> | undefined;
  if (!props) return out;
  const required = new Set((target.required ?? []) as string[]);
  for (const [name, p] of Object.entries(props)) {
    const path = nested ? `${nested}.${name}` : name;
    const notes = constraints(p);
    if (p.additionalProperties === false && p.properties) notes.push('no other fields');
    out.push({
      path,
      required: required.has(name),
      type: typeOf(p),
      notes,
      description: typeof p.description === 'string' ? p.description : '',
    });
    rows(p, path, out, depth + 1);
  }
  return out;
}

function schemaBlock(schema: Json | undefined, caption: string): string {
  if (!schema) return '';
  const list = rows(schema, '', []);
  const summary = [
    typeof schema.description === 'string' ? prose(schema.description) : '',
    `<p>Type: ${escapeHtml(typeOf(schema))}${schema.additionalProperties === false ? '; no other fields are accepted' : ''}.</p>`,
  ].join('');
  const table =
    list.length === 0
      ? ''
      : `<table><caption>${escapeHtml(caption)}</caption><thead><tr><th scope="col">Field</th><th scope="col">Type</th><th scope="col">Required</th><th scope="col">Rules and description</th></tr></thead><tbody>${list
          .map(
            (r) =>
              `<tr><td><code>${escapeHtml(r.path)}</code></td><td>${escapeHtml(r.type)}</td><td>${r.required ? 'yes' : 'no'}</td><td>${escapeHtml([...r.notes, r.description].filter(Boolean).join('; '))}</td></tr>`,
          )
          .join('')}</tbody></table>`;
  return `${summary}${table}<details><summary>JSON Schema</summary><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></details>`;
}

function parameters(params: Parameter[] | undefined): string {
  if (!params || params.length === 0) return '';
  return `<h4>Parameters</h4><table><thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Type</th><th scope="col">Required</th><th scope="col">Rules and description</th></tr></thead><tbody>${params
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${p.in}</td><td>${escapeHtml(typeOf(p.schema))}</td><td>${p.required ? 'yes' : 'no'}</td><td>${escapeHtml([...constraints(p.schema), p.description ?? ''].filter(Boolean).join('; '))}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

function requestBody(op: Operation): string {
  const b = op.requestBody;
  if (!b) return '';
  const parts = Object.entries(b.content).map(
    ([type, c]) =>
      `<h5><code>${escapeHtml(type)}</code></h5>${c.schema ? schemaBlock(c.schema, `Fields of the ${type} body`) : ''}`,
  );
  return `<h4>Request body (${b.required ? 'required' : 'optional'})</h4>${prose(b.description)}${parts.join('')}`;
}

function responses(op: Operation): string {
  const items = Object.entries(op.responses).map(([status, r]) => {
    const content = Object.entries(r.content ?? {});
    const isError = status === 'default' || Number(status) >= 400;
    const body = content
      .map(([type, c]) => {
        const ref = (c.schema as Json).$ref;
        if (ref === '#/components/schemas/ErrorEnvelope')
          return ` <a href="#error-envelope">error envelope</a> (<code>${escapeHtml(type)}</code>)`;
        const shown = Object.keys(c.schema).length > 0;
        return ` <code>${escapeHtml(type)}</code>${shown && !isError ? schemaBlock(c.schema as Json, `Fields of the ${status} response`) : ''}`;
      })
      .join('');
    const headers = Object.entries(r.headers ?? {})
      .map(
        ([name, h]) =>
          `<br>Header <code>${escapeHtml(name)}</code>: ${escapeHtml(String((h as Json).description ?? ''))}`,
      )
      .join('');
    return `<li><strong>${escapeHtml(status)}</strong> — ${escapeHtml(r.description)}${headers}${body}</li>`;
  });
  return `<h4>Responses</h4><ul class="responses">${items.join('')}</ul>`;
}

function operationSection(method: string, path: string, op: Operation): string {
  const roles = op['x-driftwatch-roles'];
  return `<section class="op" id="${escapeHtml(op.operationId)}" aria-labelledby="${escapeHtml(op.operationId)}-h">
<h3 id="${escapeHtml(op.operationId)}-h"><span class="method method-${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
<p class="summary">${escapeHtml(op.summary)}</p>
<p><strong>Roles:</strong> ${roles.length === 0 ? 'none (open)' : roles.map((r) => `<span class="role">${escapeHtml(r)}</span>`).join(' ')}${op['x-driftwatch-serving'] ? ' · <strong>serving processes only</strong>' : ''}</p>
${prose(op.description)}
${parameters(op.parameters)}
${requestBody(op)}
${responses(op)}
</section>`;
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --line: #d0d7de; --code: #f3f4f6; --link: #0550ae; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9da7b3; --line: #3d444d; --code: #161b22; --link: #6cb6ff; } }
body { font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem 4rem; }
a { color: var(--link); }
a:focus-visible, summary:focus-visible { outline: 3px solid var(--link); outline-offset: 2px; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.9em; background: var(--code); border-radius: 4px; }
code { padding: 0 0.2em; }
pre { padding: 0.75rem; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; }
@media (max-width: 640px) { table { display: block; overflow-x: auto; } body { padding: 0.75rem; } }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
caption { text-align: left; color: var(--muted); }
.op { border-top: 1px solid var(--line); padding-top: 0.5rem; margin-top: 1.5rem; }
.method { display: inline-block; min-width: 4.5em; font-family: ui-monospace, monospace; font-weight: 700; border: 2px solid currentColor; border-radius: 4px; text-align: center; }
.method-get { color: #1a7f37; } .method-post { color: #0550ae; } .method-put { color: #9a6700; } .method-delete { color: #cf222e; }
@media (prefers-color-scheme: dark) { .method-get { color: #57ab5a; } .method-post { color: #6cb6ff; } .method-put { color: #daaa3f; } .method-delete { color: #f47067; } }
.role { font-family: ui-monospace, monospace; border: 1px solid var(--line); border-radius: 1em; padding: 0 0.5em; }
.summary { font-size: 1.05em; }
nav ul { columns: 2 22rem; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: 0.5rem; }
`;

/** The whole reference page. */
export function renderReference(doc: OpenApiDocument): string {
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item) as [string, Operation][]) {
      const tag = op.tags[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), { method, path, op }]);
    }
  }
  const tags = [
    ...doc.tags.filter((t) => byTag.has(t.name)),
    ...[...byTag.keys()]
      .filter((n) => !doc.tags.some((t) => t.name === n))
      .map((name) => ({ name, description: '' })),
  ];
  const nav = tags
    .map(
      (t) =>
        `<li><a href="#tag-${escapeHtml(t.name)}">${escapeHtml(t.name)}</a><ul>${(byTag.get(t.name) ?? [])
          .map(
            ({ method, path, op }) =>
              `<li><a href="#${escapeHtml(op.operationId)}"><code>${method.toUpperCase()} ${escapeHtml(path)}</code></a></li>`,
          )
          .join('')}</ul></li>`,
    )
    .join('');
  const sections = tags
    .map(
      (t) =>
        `<section id="tag-${escapeHtml(t.name)}" aria-labelledby="tag-${escapeHtml(t.name)}-h"><h2 id="tag-${escapeHtml(t.name)}-h">${escapeHtml(t.name)}</h2>${prose(t.description)}${(
          byTag.get(t.name) ?? []
        )
          .map(({ method, path, op }) => operationSection(method, path, op))
          .join('\n')}</section>`,
    )
    .join('\n');
  const envelope = (doc.components.schemas as Record<string, Json>).ErrorEnvelope as Json;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)} ${escapeHtml(doc.info.version)} — API reference</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the operations</a>
<header>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
${prose(doc.info.description)}
<p>The machine-readable document: <a href="/openapi.json"><code>GET /openapi.json</code></a> (OpenAPI ${escapeHtml(doc.openapi)}). Reviewers work in the <a href="/ui">web UI</a>.</p>
</header>
<nav aria-label="Operations by tag"><h2>Contents</h2><ul>${nav}<li><a href="#error-envelope">The error envelope</a></li></ul></nav>
<main id="main">
${sections}
<section id="error-envelope" aria-labelledby="error-envelope-h"><h2 id="error-envelope-h">The error envelope</h2>
<p>Every error answers with this body, whatever the status.</p>
${schemaBlock(envelope, 'Fields of the error envelope')}
</section>
</main>
</body>
</html>
`;
}
