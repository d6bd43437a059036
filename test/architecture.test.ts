import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The dependency rules of the house style, checked on the import statements of src/: capability folders
// form no cycle, src/stats imports nothing of the project, and only the storage layer touches the driver.
//
// Type-only imports count. With verbatimModuleSyntax they vanish from the emitted JavaScript, but they
// still tie one folder's design to another's (change the type, change both), and the rule is about design.
// The cycle report marks them, so a runtime cycle can be told from a type-level one.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');

interface Import {
  /** Importing file, relative to the repository ("src/drift/service.ts"). */
  file: string;
  line: number;
  specifier: string;
  /** The project file a relative specifier names, relative to the repository; null for packages. */
  target: string | null;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
    )
    .sort();
}

/** "./x.js" as NodeNext resolves it to a source file: x.ts or x.tsx, or x/index.ts for a directory. */
function resolveRelative(from: string, specifier: string): string | null {
  const base = resolve(dirname(from), specifier);
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.js$/, '.tsx'),
    `${base}.ts`,
    join(base, 'index.ts'),
  ];
  return candidates.find((c) => /\.tsx?$/.test(c) && existsSync(c)) ?? null;
}

const unresolved: Import[] = [];

/** Every module a file names: static import/export … from, side-effect imports, import() and import("x").T types. */
function importsOf(path: string): Import[] {
  const source = ts.createSourceFile(
    path,
    readFileSync(path, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
    path.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  const found: Import[] = [];
  const add = (node: ts.Node, specifier: string, typeOnly: boolean) => {
    const relativeSpecifier = specifier.startsWith('.');
    const resolved = relativeSpecifier ? resolveRelative(path, specifier) : null;
    const entry: Import = {
      file: relative(ROOT, path),
      line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1,
      specifier,
      target: resolved === null ? null : relative(ROOT, resolved),
      typeOnly,
    };
    if (relativeSpecifier && resolved === null) unresolved.push(entry);
    found.push(entry);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, node.importClause?.isTypeOnly ?? false);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node, node.moduleSpecifier.text, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      add(node, node.arguments[0].text, false);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node, node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The capability a file belongs to: the first folder under src/, or the file itself for top-level files. */
function moduleOf(file: string): string {
  const parts = relative('src', file).split(/[\\/]/);
  return parts.length === 1 ? (parts[0] as string).replace(/\.tsx?$/, '') : (parts[0] as string);
}

const imports = sourceFiles(SRC).flatMap(importsOf);

/**
 * Where a file reaches the store itself: `x.store` (so `deps.store.read(` and `.store.tx(`), `x['store']`,
 * or `{ store }` taken apart from deps. Services take the store; pages call services.
 */
function storeAccessOf(path: string): string[] {
  const source = ts.createSourceFile(
    path,
    readFileSync(path, 'utf8'),
    ts.ScriptTarget.Latest,
    true,
    path.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  const found: string[] = [];
  const at = (node: ts.Node) =>
    `${relative(ROOT, path)}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1} ${node.getText(source).replace(/\s+/g, ' ').slice(0, 80)}`;
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && node.name.text === 'store') found.push(at(node.parent));
    else if (
      ts.isElementAccessExpression(node) &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      node.argumentExpression.text === 'store'
    )
      found.push(at(node));
    else if (ts.isBindingElement(node) && (node.propertyName ?? node.name).getText(source) === 'store')
      found.push(at(node));
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

type Graph = Map<string, Map<string, Import[]>>;

function folderGraph(edges: Import[]): Graph {
  const graph: Graph = new Map();
  for (const i of edges) {
    if (i.target === null || !i.target.startsWith('src/')) continue;
    const from = moduleOf(i.file);
    const to = moduleOf(i.target);
    if (from === to) continue;
    const out = graph.get(from) ?? new Map<string, Import[]>();
    graph.set(from, out);
    out.set(to, [...(out.get(to) ?? []), i]);
  }
  return graph;
}

/** Strongly connected components with more than one member (Tarjan), members sorted. */
function knots(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const connect = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const members: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        members.push(w);
      } while (w !== v);
      if (members.length > 1) out.push(members.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return out.sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
}

/** Every elementary cycle inside one component, each starting at its alphabetically first module. */
function cyclesIn(graph: Graph, members: string[]): string[][] {
  const cycles: string[][] = [];
  for (const [i, start] of members.entries()) {
    const allowed = new Set(members.slice(i));
    const walk = (path: string[]) => {
      const last = path[path.length - 1] as string;
      for (const w of [...(graph.get(last)?.keys() ?? [])].sort()) {
        if (w === start) cycles.push([...path, start]);
        else if (allowed.has(w) && !path.includes(w)) walk([...path, w]);
      }
    };
    walk([start]);
  }
  return cycles;
}

const arrow = (path: string[]) => path.join(' → ');

function cycleReport(graph: Graph, runtimeGraph: Graph): { cycles: string[]; message: string } {
  const groups = knots(graph);
  const cycles = groups.flatMap((g) => cyclesIn(graph, g));
  const lines = [
    `${cycles.length} import cycle(s) between capability folders (each folder under src/, and each top-level file, is one module):`,
  ];
  for (const g of groups) {
    lines.push('', `  {${g.join(', ')}}`);
    for (const c of cyclesIn(graph, g)) lines.push(`    ${arrow(c)}`);
    lines.push('    imports behind these edges:');
    for (const from of g) {
      for (const [to, edge] of [...(graph.get(from) ?? [])].sort(([a], [b]) => a.localeCompare(b))) {
        if (!g.includes(to)) continue;
        const runtime = edge.some((i) => !i.typeOnly);
        lines.push(`      ${from} → ${to}${runtime ? '' : '  (type-only)'}`);
        for (const i of edge)
          lines.push(`        ${i.file}:${i.line} imports ${i.target}${i.typeOnly ? ' (type)' : ''}`);
      }
    }
  }
  const runtimeCycles = knots(runtimeGraph).flatMap((g) => cyclesIn(runtimeGraph, g));
  lines.push(
    '',
    `Counting only imports that remain at runtime, ${runtimeCycles.length} of them are left:`,
    ...runtimeCycles.map((c) => `  ${arrow(c)}`),
  );
  return { cycles: cycles.map(arrow), message: lines.join('\n') };
}

describe('architecture: imports under src/', () => {
  it('parses every relative import to a project file', () => {
    expect(unresolved.map((i) => `${i.file}:${i.line} ${i.specifier}`)).toEqual([]);
    // A parser that found nothing would pass every rule below.
    expect(imports.filter((i) => i.target !== null).length).toBeGreaterThan(100);
    expect(folderGraph(imports).get('drift')?.has('stats')).toBe(true);
  });

  it('has no cycle between capability folders', () => {
    const graph = folderGraph(imports);
    const { cycles, message } = cycleReport(graph, folderGraph(imports.filter((i) => !i.typeOnly)));
    expect(cycles, message).toEqual([]);
  });

  it('keeps src/stats free of the rest of the project', () => {
    const outside = imports.filter(
      (i) => moduleOf(i.file) === 'stats' && i.target !== null && !i.target.startsWith('src/stats/'),
    );
    expect(outside.map((i) => `${i.file}:${i.line} imports ${i.target}`)).toEqual([]);
  });

  it('keeps src/ui/ to services: no store access, no runtime import of src/store/', () => {
    // The detector must see what it forbids: a service that reads the store.
    expect(storeAccessOf(join(SRC, 'alerts', 'review.ts')).length).toBeGreaterThan(0);
    const ui = sourceFiles(join(SRC, 'ui'));
    expect(ui.length).toBeGreaterThan(10);
    const access = ui.flatMap(storeAccessOf);
    // Types of rows and filters are shared vocabulary; the store itself is not.
    const storeImports = imports.filter(
      (i) => i.file.startsWith('src/ui/') && i.target?.startsWith('src/store/') && !i.typeOnly,
    );
    expect([...access, ...storeImports.map((i) => `${i.file}:${i.line} imports ${i.target}`)]).toEqual([]);
  });

  it('imports the database drivers only inside src/store/ and src/db/', () => {
    const driver = /^(better-sqlite3|drizzle-orm\/better-sqlite3|pg|drizzle-orm\/node-postgres)(\/|$)/;
    const offenders = imports.filter(
      (i) => driver.test(i.specifier) && !i.file.startsWith('src/store/') && !i.file.startsWith('src/db/'),
    );
    expect(
      offenders.map((i) => `${i.file}:${i.line} imports ${i.specifier}${i.typeOnly ? ' (type)' : ''}`),
    ).toEqual([]);
  });
});
