// Highlighting of sysdig's filter language (and -p formats) inside sysnb's magics, over the notebook's own
// Python highlighting: a CodeMirror 6 view plugin that marks the tokens of the lines it recognises.
import { Prec, RangeSetBuilder } from '@codemirror/state';
import { Decoration, DecorationSet, EditorView, ViewPlugin, ViewUpdate } from '@codemirror/view';

// where the filter starts on each magic's line: after the magic (and its options), or after a separator
const MAGIC = /^(\s*)(%%?(?:sysfilter|sysprint|chisel|capture|syscapture|finding))\b/;
const AFTER: Record<string, RegExp | null> = {
  '%sysfilter': null, // the whole rest of the line
  '%sysprint': /^(\s*(?:-[AX]|-n\s+\d+|-p\s+(?:"[^"]*"|'[^']*'|\S+)))*/,
  '%chisel': /^.*?(?:\s--\s|$)/,
  '%%capture': /^.*?(?:--filter\b|$)/,
  '%capture': /^.*?(?:--filter\b|$)/,
  '%%syscapture': /^.*?(?:--filter\b|$)/,
  '%syscapture': /^.*?(?:--filter\b|$)/,
  '%finding': /^.*?(?:\s--\s|$)/
};
const OPERATORS = new Set([
  'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'glob', 'iglob', 'pmatch',
  'in', 'intersects', 'exists', 'regex'
]);
const KEYWORDS = new Set(['and', 'or', 'not']);
const TOKEN =
  /("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?)|(!=|<=|>=|=|<|>)|([A-Za-z_][\w]*\.[\w.]*(?:\[[^\]]*\])?)|(-?\d[\w.:]*)|([A-Za-z_]\w*)|([()])/g;

export type Token = { from: number; to: number; kind: string };

/** The tokens of a sysdig filter at ``offset`` in its line. */
export function filterTokens(text: string, offset: number): Token[] {
  const out: Token[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const from = offset + (m.index ?? 0);
    const to = from + m[0].length;
    if (m[1]) out.push({ from, to, kind: 'string' });
    else if (m[2]) out.push({ from, to, kind: 'operator' });
    else if (m[3]) out.push({ from, to, kind: 'field' });
    else if (m[4]) out.push({ from, to, kind: 'number' });
    else if (m[5] && KEYWORDS.has(m[5])) out.push({ from, to, kind: 'keyword' });
    else if (m[5] && OPERATORS.has(m[5])) out.push({ from, to, kind: 'operator' });
    else if (m[6]) out.push({ from, to, kind: 'paren' });
  }
  return out;
}

/** The tokens of one line of a cell: [] unless it is one of sysnb's filter-taking magics. */
export function lineTokens(line: string): Token[] {
  const m = MAGIC.exec(line);
  if (!m) return [];
  const magic = m[2];
  const start = m[0].length;
  const tokens: Token[] = [{ from: m[1].length, to: start, kind: 'magic' }];
  const rest = line.slice(start);
  if (magic === '%sysprint') {
    const fmt = /-p\s+("[^"]*"|'[^']*'|\S+)/.exec(rest);
    if (fmt) {
      const at = start + fmt.index + fmt[0].length - fmt[1].length;
      for (const f of fmt[1].matchAll(/%\*?[A-Za-z_][\w.]*(?:\[[^\]]*\])?/g)) {
        tokens.push({ from: at + (f.index ?? 0), to: at + (f.index ?? 0) + f[0].length, kind: 'field' });
      }
    }
  }
  const skip = AFTER[magic];
  const head = skip ? (skip.exec(rest)?.[0].length ?? rest.length) : 0;
  return tokens.concat(filterTokens(rest.slice(head), start + head));
}

const marks: Record<string, Decoration> = {};
for (const kind of ['magic', 'field', 'operator', 'keyword', 'string', 'number', 'paren']) {
  marks[kind] = Decoration.mark({ class: `sysnb-tok sysnb-tok-${kind}` });
}

function decorate(view: EditorView): DecorationSet {
  const builder = new RangeSetBuilder<Decoration>();
  for (const { from, to } of view.visibleRanges) {
    for (let pos = from; pos <= to; ) {
      const line = view.state.doc.lineAt(pos);
      for (const t of lineTokens(line.text)) {
        if (t.to > t.from) builder.add(line.from + t.from, line.from + t.to, marks[t.kind]);
      }
      pos = line.to + 1;
    }
  }
  return builder.finish();
}

// lowest precedence: a token's mark wraps the editor's own highlighting spans instead of being cut by them
export const sysnbHighlight = Prec.lowest(ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = decorate(view);
    }
    update(update: ViewUpdate): void {
      if (update.docChanged || update.viewportChanged) this.decorations = decorate(update.view);
    }
  },
  { decorations: (v) => v.decorations }
));
