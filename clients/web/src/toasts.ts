// Short notices in a corner of the screen, such as live security alerts.
// One notice shows at a time and only for a few seconds. Older ones
// collapse into a counter that links to the full list, so notices never
// cover much of a phone screen.

import { h, replace } from './dom';

// expandedMs is how long a notice stays open before it collapses into
// the counter.
export const expandedMs = 8000;

export interface CounterLink {
  href: string;
  // noun names the notices in the counter: "alert" gives "3 new alerts".
  noun: string;
  linkText: string;
}

export class Toasts {
  readonly el: HTMLElement;
  private counter: HTMLElement;
  private collapsed = 0;
  private open: { el: HTMLElement; timer: number } | null = null;

  constructor(private link: CounterLink) {
    this.counter = h('div', { class: 'toast toast-counter', hidden: true });
    this.el = h('div', { class: 'toasts', 'aria-live': 'polite' }, this.counter);
  }

  // show opens a notice and collapses the one open before it. tone
  // "critical" or "high" marks it as urgent.
  show(title: string, body: string, tone = 'info', ms = expandedMs): void {
    this.collapseOpen();
    const close = h('button', { class: 'toast-close', type: 'button', 'aria-label': `Dismiss: ${title}` }, '×');
    const el = h('div', { class: `toast toast-${tone}` }, h('strong', null, title), h('p', null, body), close);
    const timer = window.setTimeout(() => this.collapseOpen(), ms);
    close.addEventListener('click', () => {
      window.clearTimeout(timer);
      el.remove();
      if (this.open?.el === el) this.open = null;
    });
    this.open = { el, timer };
    this.el.appendChild(el);
  }

  // count returns how many notices collapsed into the counter.
  count(): number {
    return this.collapsed;
  }

  // clear removes every notice and resets the counter, for example at
  // sign-out.
  clear(): void {
    if (this.open) {
      window.clearTimeout(this.open.timer);
      this.open.el.remove();
      this.open = null;
    }
    this.collapsed = 0;
    this.renderCounter();
  }

  private collapseOpen(): void {
    if (!this.open) return;
    window.clearTimeout(this.open.timer);
    this.open.el.remove();
    this.open = null;
    this.collapsed += 1;
    this.renderCounter();
  }

  private renderCounter(): void {
    this.counter.hidden = this.collapsed === 0;
    if (this.collapsed === 0) {
      replace(this.counter);
      return;
    }
    const n = this.collapsed;
    const open = h('a', { href: this.link.href }, this.link.linkText);
    const dismiss = h('button', { class: 'toast-close', type: 'button', 'aria-label': 'Dismiss the counter' }, '×');
    open.addEventListener('click', () => this.clear());
    dismiss.addEventListener('click', () => this.clear());
    replace(
      this.counter,
      h('span', { 'data-testid': 'toast-count' }, `${n} new ${this.link.noun}${n === 1 ? '' : 's'}`),
      ' · ',
      open,
      dismiss,
    );
  }
}
