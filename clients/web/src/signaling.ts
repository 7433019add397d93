// WebSocket client for the signaling hub (/ws, subprotocol bedside.v1).
// The session token is sent in the first message, never in the URL. One
// connection per tab carries calls, message notifications and alerts; it
// reconnects with backoff after a network failure.

export const subprotocol = 'bedside.v1';

// Close codes after which reconnecting with the same session is pointless.
const closeAuthFailed = 4001;
const closePolicyViolation = 1008; // session revoked
const closeSuperseded = 4010;
// The user already has the maximum number of connections: another one would
// be closed the same way, so the user must close a tab or device first.
const closeTooManyConnections = 4011;
// Close codes not listed here, such as 1011 (a server fault, for example
// failed session checks), lead to a reconnect with backoff.

export interface SignalMessage {
  type: string;
  id?: string;
  [key: string]: unknown;
}

export class SignalError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SignalError';
  }
}

type Handler = (msg: SignalMessage) => void;

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export class Signaling {
  private ws: WebSocket | null = null;
  private handlers = new Map<string, Set<Handler>>();
  private stateListeners = new Set<(s: ConnectionState) => void>();
  private pending = new Map<string, { resolve: (m: SignalMessage) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private attempt = 0;
  private stopped = false;
  private pingTimer: number | undefined;
  private reconnectTimer: number | undefined;
  // authenticatedBefore is set once a connection was authenticated, so the
  // next authenticated connection announces itself as "reconnected".
  private authenticatedBefore = false;
  private pingSent = 0;
  private opened: Promise<void> | null = null;
  state: ConnectionState = 'closed';
  // Round-trip time of the last ping, in milliseconds.
  rtt = 0;
  user = '';
  role = '';

  constructor(
    private token: () => string | null,
    private deviceLabel: string,
    private onSessionEnded: (reason: 'expired' | 'revoked') => void,
  ) {}

  on(type: string, fn: Handler): () => void {
    let set = this.handlers.get(type);
    if (!set) {
      set = new Set();
      this.handlers.set(type, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  onState(fn: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  // Open the connection if needed and resolve once it is authenticated.
  connect(): Promise<void> {
    this.stopped = false;
    if (this.state === 'open') return Promise.resolve();
    if (!this.opened) this.opened = this.open();
    return this.opened;
  }

  close(): void {
    this.stopped = true;
    this.authenticatedBefore = false;
    window.clearInterval(this.pingTimer);
    window.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.ws?.close(1000, 'bye');
    this.ws = null;
    this.opened = null;
    this.setState('closed');
  }

  // Send a message without waiting for a reply.
  send(msg: SignalMessage): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      throw new SignalError('not-connected', 'The connection to the server was lost. Wait while it reconnects.');
    }
    this.ws.send(JSON.stringify(msg));
  }

  // Send a message with an id and resolve with the reply that echoes it
  // (ok, joined, answer, pong) or reject with the error reply.
  request(msg: SignalMessage, timeoutMs = 15000): Promise<SignalMessage> {
    const id = `r${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject(new SignalError('timeout', 'The server did not reply in time. Check your connection.'));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (m) => {
          window.clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          window.clearTimeout(timer);
          reject(e);
        },
      });
      try {
        this.send({ ...msg, id });
      } catch (err) {
        this.pending.delete(id);
        window.clearTimeout(timer);
        reject(err as Error);
      }
    });
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const token = this.token();
      if (!token) {
        reject(new SignalError('unauthenticated', 'Sign in first.'));
        return;
      }
      this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
      const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
      const ws = new WebSocket(url, subprotocol);
      this.ws = ws;
      let authenticated = false;
      ws.addEventListener('open', () => {
        ws.send(JSON.stringify({ type: 'auth', token, device: this.deviceLabel }));
      });
      ws.addEventListener('message', (ev) => {
        let msg: SignalMessage;
        try {
          msg = JSON.parse(String(ev.data)) as SignalMessage;
        } catch {
          return; // the hub sends JSON only; ignore anything else
        }
        if (!authenticated) {
          if (msg.type === 'auth-ok') {
            authenticated = true;
            this.attempt = 0;
            this.user = String(msg.user ?? '');
            this.role = String(msg.role ?? '');
            this.setState('open');
            this.startPings();
            resolve();
            // Exactly one "reconnected" per new connection, however many
            // callers waited for it.
            if (this.authenticatedBefore) this.emit({ type: 'reconnected' });
            this.authenticatedBefore = true;
          } else if (msg.type === 'error') {
            reject(new SignalError(String(msg.code), String(msg.message)));
          }
          return;
        }
        this.dispatch(msg);
      });
      ws.addEventListener('close', (ev) => {
        window.clearInterval(this.pingTimer);
        this.failPending(new SignalError('closed', 'The connection to the server closed.'));
        if (this.ws === ws) this.ws = null;
        this.opened = null;
        if (!authenticated) {
          const code = ev.code === closeTooManyConnections ? 'too-many-connections' : 'closed';
          reject(new SignalError(code, closeMessage(ev.code)));
        }
        if (ev.code === closeAuthFailed) {
          this.setState('closed');
          this.onSessionEnded('expired');
          return;
        }
        if (ev.code === closePolicyViolation) {
          this.setState('closed');
          this.onSessionEnded('revoked');
          return;
        }
        if (ev.code === closeSuperseded) {
          this.setState('closed');
          this.emit({ type: 'superseded' });
          return;
        }
        if (ev.code === closeTooManyConnections) {
          this.setState('closed');
          this.emit({ type: 'too-many-connections', message: closeMessage(ev.code) });
          return;
        }
        if (this.stopped) {
          this.setState('closed');
          return;
        }
        this.scheduleReconnect();
      });
    });
  }

  // scheduleReconnect arranges one reconnect attempt. A failed attempt
  // reaches it twice, from the socket's close event and from the rejected
  // connect(), so a pending attempt absorbs the second call: otherwise each
  // failure would double the attempts.
  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined) return;
    this.attempt += 1;
    this.setState('reconnecting');
    // Exponential backoff with jitter, capped at 15 s.
    const delay = Math.min(15000, 500 * 2 ** Math.min(this.attempt, 5)) * (0.5 + Math.random() / 2);
    this.reconnectTimer = window.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped) return;
      this.connect().catch(() => {
        if (!this.stopped && this.state !== 'closed') this.scheduleReconnect();
      });
    }, delay);
  }

  private startPings(): void {
    window.clearInterval(this.pingTimer);
    this.pingTimer = window.setInterval(() => {
      this.pingSent = performance.now();
      this.request({ type: 'ping' }, 10000).then(
        () => {
          this.rtt = performance.now() - this.pingSent;
        },
        () => {
          // A lost pong shows up as a closed connection soon after.
        },
      );
    }, 20000);
  }

  private dispatch(msg: SignalMessage): void {
    const id = typeof msg.id === 'string' ? msg.id : '';
    const waiter = id ? this.pending.get(id) : undefined;
    if (waiter) {
      this.pending.delete(id);
      if (msg.type === 'error') waiter.reject(new SignalError(String(msg.code), String(msg.message)));
      else waiter.resolve(msg);
      return;
    }
    this.emit(msg);
  }

  private emit(msg: SignalMessage): void {
    for (const fn of this.handlers.get(msg.type) ?? []) fn(msg);
    for (const fn of this.handlers.get('*') ?? []) fn(msg);
  }

  private failPending(err: Error): void {
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
  }

  private setState(s: ConnectionState): void {
    if (this.state === s) return;
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }
}

function closeMessage(code: number): string {
  switch (code) {
    case closeAuthFailed:
      return 'Your session has expired. Sign in again.';
    case closePolicyViolation:
      return 'Your session was ended. Sign in again.';
    case closeTooManyConnections:
      return 'You are connected from too many tabs or devices. Close another tab or device, then reload this page.';
    default:
      return 'Could not connect to the server. Check your connection and try again.';
  }
}
