// sysnb's JupyterLab extension: sysdig filter highlighting in the sysnb magics, and a Captures side panel.
// Completion inside the magics comes from the kernel (sysnb.completer, an IPython matcher) through
// JupyterLab's own completer, so it also works without this extension and in the terminal.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { EditorExtensionRegistry, IEditorExtensionRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { CapturesPanel } from './captures';
import { sysnbHighlight } from './highlight';

const ICON = new LabIcon({
  name: 'sysnb:captures',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">' +
    '<g class="jp-icon3" fill="#616161"><rect x="1" y="2" width="14" height="2"/><rect x="1" y="7" width="9" height="2"/>' +
    '<rect x="1" y="12" width="12" height="2"/></g></svg>'
});

const highlight: JupyterFrontEndPlugin<void> = {
  id: 'sysnb-labextension:highlight',
  description: 'Highlights sysdig filters in %sysfilter, %sysprint, %chisel, %%capture --filter and %finding lines.',
  autoStart: true,
  requires: [IEditorExtensionRegistry],
  activate: (_app: JupyterFrontEnd, registry: IEditorExtensionRegistry) => {
    registry.addExtension({
      name: 'sysnb:filter-highlight',
      factory: () => EditorExtensionRegistry.createImmutableExtension(sysnbHighlight)
    });
  }
};

const captures: JupyterFrontEndPlugin<void> = {
  id: 'sysnb-labextension:captures',
  description: 'A side panel listing the captures open in the notebook kernel.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, restorer: ILayoutRestorer | null) => {
    const panel = new CapturesPanel(tracker);
    panel.title.icon = ICON;
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, panel.id);
  }
};

export default [highlight, captures];
