// The "Captures" side panel: the captures open in the current notebook's kernel (asked with an execute
// request's user_expressions, so nothing appears in the notebook), each with its provenance; a click inserts
// `%sysopen PATH -o NAME` at the cursor of the active cell.
import { INotebookTracker } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

const EXPRESSION = "__import__('sysnb.views.panel').views.panel.captures_json()";

type Row = {
  name: string;
  source: string;
  sha256: string;
  host: string;
  span_s: number | null;
  events: number;
  drops: number | null;
  damaged: boolean;
};

function el(tag: string, cls: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = cls;
  if (text !== undefined) node.textContent = text; // capture strings: always text, never HTML
  return node;
}

function quoted(path: string): string {
  return /^[\w./:+-]+$/.test(path) ? path : '"' + path.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export class CapturesPanel extends Widget {
  private list: HTMLElement;
  private status: HTMLElement;

  constructor(private tracker: INotebookTracker) {
    super();
    this.id = 'sysnb-captures';
    this.addClass('sysnb-captures');
    this.title.caption = 'sysnb: captures open in this notebook';
    const head = el('div', 'sysnb-captures-head');
    const refresh = el('button', 'jp-mod-styled sysnb-captures-refresh', 'refresh');
    refresh.addEventListener('click', () => void this.refresh());
    head.append(el('span', 'sysnb-captures-title', 'Captures'), refresh);
    this.status = el('div', 'sysnb-captures-status');
    this.list = el('div', 'sysnb-captures-list');
    this.node.append(head, this.status, this.list);
    tracker.currentChanged.connect(() => void this.refresh());
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const kernel = this.tracker.currentWidget?.sessionContext.session?.kernel;
    if (!kernel) {
      this.show_status('open a notebook with a running kernel');
      return;
    }
    this.show_status('asking the kernel…');
    const reply = await kernel.requestExecute({
      code: '', silent: true, store_history: false, user_expressions: { captures: EXPRESSION }
    }).done;
    const expr = (reply.content as any).user_expressions?.captures;
    if (!expr || expr.status !== 'ok') {
      this.show_status('sysnb is not importable in this kernel (pip install sysnb)');
      return;
    }
    const rows = JSON.parse(expr.data['text/plain']) as Row[];
    this.show_status(rows.length ? `${rows.length} open; click one to insert %sysopen` :
      'no capture open in this kernel: %sysopen PATH or sysnb.open_capture(PATH)');
    this.list.replaceChildren(...rows.map((r) => this.item(r)));
  }

  private show_status(text: string): void {
    this.status.textContent = text;
  }

  private item(r: Row): HTMLElement {
    const box = el('div', 'sysnb-capture');
    box.title = 'insert %sysopen for this capture at the cursor';
    const span = r.span_s === null ? '?' : `${r.span_s.toFixed(2)} s`;
    const drops = r.drops === null ? 'drops not recorded' : `${r.drops.toLocaleString()} dropped`;
    box.append(
      el('div', 'sysnb-capture-name', r.name + (r.damaged ? ' (damaged)' : '')),
      el('div', 'sysnb-capture-source', r.source),
      el('div', 'sysnb-capture-meta', `${r.host || 'unknown host'} · ${span} · ${r.events.toLocaleString()} events · ${drops}`),
      el('div', 'sysnb-capture-sha', 'sha256 ' + r.sha256)
    );
    box.addEventListener('click', () => this.insert(`%sysopen ${quoted(r.source)} -o ${r.name}\n`));
    return box;
  }

  private insert(text: string): void {
    const editor = this.tracker.activeCell?.editor;
    if (!editor) return;
    editor.replaceSelection?.(text);
    editor.focus();
  }
}
