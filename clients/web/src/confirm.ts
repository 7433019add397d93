// A modal confirmation dialog for actions that cannot be undone quietly,
// such as ending someone's sessions. It uses the native <dialog> element,
// which traps focus, closes on Escape and needs no inline script or style.

import { h, uid } from './dom';

export interface ConfirmOptions {
  title: string;
  // Paragraphs that say who is affected and what happens.
  paragraphs: string[];
  confirmLabel: string;
  // danger styles the confirm button as destructive.
  danger?: boolean;
}

// confirmAction shows the dialog and resolves true only when the user
// presses the confirm button. Cancel, Escape and closing the dialog resolve
// false. Focus starts on Cancel and returns to the element that had it.
export function confirmAction(opts: ConfirmOptions): Promise<boolean> {
  const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = uid('confirm-title');
  const bodyId = uid('confirm-body');
  const cancel = h('button', { type: 'button', autofocus: true }, 'Cancel');
  const ok = h('button', { type: 'button', class: opts.danger ? 'danger' : 'primary' }, opts.confirmLabel);
  const dialog = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': titleId, 'aria-describedby': bodyId },
    h('h2', { id: titleId }, opts.title),
    h('div', { id: bodyId }, ...opts.paragraphs.map((p) => h('p', null, p))),
    h('div', { class: 'row confirm-actions' }, cancel, ok),
  );
  document.body.appendChild(dialog);

  return new Promise((resolve) => {
    let confirmed = false;
    ok.addEventListener('click', () => {
      confirmed = true;
      dialog.close();
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (before?.isConnected) before.focus();
      resolve(confirmed);
    });
    dialog.showModal();
    cancel.focus();
  });
}
