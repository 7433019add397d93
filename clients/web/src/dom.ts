// DOM construction without HTML strings. The server's Content-Security-Policy
// forbids inline scripts, inline styles and event-handler attributes, so every
// element is built with createElement, every listener is attached with
// addEventListener and every visual state is a class from styles.css.

type Child = Node | string | number | null | undefined | false;

export type Attrs = {
  class?: string;
  on?: { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };
  dataset?: Record<string, string>;
  // Other attributes are set with setAttribute; booleans toggle presence.
  [name: string]: unknown;
};

// Create an element with attributes, listeners and children. Strings become
// text nodes, so user data can never turn into markup.
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) setAttrs(el, attrs);
  append(el, ...children);
  return el;
}

function setAttrs(el: HTMLElement, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'on') {
      for (const [type, fn] of Object.entries(value as Record<string, EventListener>)) {
        el.addEventListener(type, fn);
      }
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (name === 'class') {
      el.className = String(value);
    } else if (name.startsWith('on')) {
      throw new Error(`inline handler attribute ${name} is blocked by the CSP; use "on"`);
    } else if (name === 'style') {
      throw new Error('style attributes are blocked by the CSP; use a class');
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
}

// Append children, skipping null, undefined and false so that conditional
// children read naturally: h('p', null, cond && 'text').
export function append(parent: Node, ...children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

// Replace every child of parent.
export function replace(parent: Node, ...children: (Child | Child[])[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

let idCounter = 0;

// Return an id unique within the page, for label/for and aria references.
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// A labelled form field: the label, the control and a hint joined by
// aria-describedby so screen readers announce the hint with the control.
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLElement {
  if (!control.id) control.id = uid('field');
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
  if (hint) {
    const hintEl = h('p', { class: 'hint', id: uid('hint') }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
    wrap.appendChild(hintEl);
  }
  return wrap;
}

// A status line that screen readers announce when its text changes.
export function statusLine(kind: 'polite' | 'assertive' = 'polite'): HTMLElement & {
  set(text: string, tone?: 'info' | 'error' | 'ok'): void;
} {
  const el = h('p', { class: 'status', role: kind === 'assertive' ? 'alert' : 'status', 'aria-live': kind });
  return Object.assign(el, {
    set(text: string, tone: 'info' | 'error' | 'ok' = 'info') {
      el.textContent = text;
      el.className = `status status-${tone}`;
      el.hidden = text === '';
    },
  });
}

// groupInFours splits a key into groups of four characters for reading
// aloud or typing: "JBSW Y3DP EHPK 3PXP".
export function groupInFours(key: string): string {
  return key.replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
}

// Format a time for people: "14:05" today, "Mon 3 Mar, 14:05" otherwise.
export function formatTime(iso: string | number | Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === now.toDateString()) return time;
  const day = d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
  return `${day}, ${time}`;
}
