// HTTP JSON client for the Bedside API. The session token travels in the
// Authorization header only, never in a URL. Every error has the server's
// shape {"error": {"code", "message", "details"}} or is turned into it.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

// Error codes that mean the session is gone and the user must sign in again.
const sessionGoneCodes = new Set(['unauthenticated', 'session_expired']);

type Listener = () => void;

export class Api {
  private token: string | null = null;
  private deviceId: string | null = null;
  private expiredListeners: Listener[] = [];

  // setDevice names this browser's registered e2ee device in the
  // X-Bedside-Device header, which the messaging endpoints require.
  setDevice(deviceId: string | null): void {
    this.deviceId = deviceId;
  }

  setToken(token: string | null): void {
    this.token = token;
    if (!token) this.deviceId = null;
  }

  hasToken(): boolean {
    return this.token !== null;
  }

  // currentToken returns the session token, for the WebSocket's first message.
  currentToken(): string | null {
    return this.token;
  }

  // Call fn whenever a request fails because the session expired or was revoked.
  onSessionExpired(fn: Listener): void {
    this.expiredListeners.push(fn);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, body);
  }

  // Send a JSON request and decode the JSON response. A 204 resolves to
  // undefined. Raw bodies (attachment chunks) go through requestRaw.
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    let payload: BodyInit | undefined;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await this.send(method, path, headers, payload);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  // Send raw bytes (for example an encrypted attachment) and decode the
  // JSON response.
  async requestRaw<T>(method: string, path: string, body: BodyInit, contentType: string): Promise<T> {
    const res = await this.send(method, path, { Accept: 'application/json', 'Content-Type': contentType }, body);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  // Fetch raw bytes, for example an encrypted attachment.
  async bytes(path: string): Promise<Uint8Array> {
    const res = await this.send('GET', path, { Accept: 'application/octet-stream' });
    return new Uint8Array(await res.arrayBuffer());
  }

  private async send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: BodyInit,
  ): Promise<Response> {
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (this.deviceId && path.startsWith('/api/v1/')) headers['X-Bedside-Device'] = this.deviceId;
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body, credentials: 'omit', cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'network', 'The connection to the server was lost. Check your network and try again.');
    }
    if (res.ok) return res;
    const err = await decodeError(res);
    if (res.status === 401 && this.token && sessionGoneCodes.has(err.code)) {
      this.token = null;
      for (const fn of this.expiredListeners) fn();
    }
    throw err;
  }
}

async function decodeError(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.code) {
      return new ApiError(res.status, body.error.code, body.error.message ?? res.statusText, body.error.details);
    }
  } catch {
    // Not JSON: fall through to a message built from the status.
  }
  if (res.status === 429) {
    return new ApiError(429, 'rate_limited', 'Too many attempts. Wait a minute and try again.');
  }
  if (res.status >= 500) {
    return new ApiError(res.status, 'internal', 'The server had a problem. Try again in a moment.');
  }
  return new ApiError(res.status, 'http_' + res.status, `The request failed (${res.status} ${res.statusText}).`);
}

// asSentence capitalizes text and ends it with one full stop unless it
// already ends with a sentence mark, so callers can append more sentences.
export function asSentence(text: string): string {
  const t = text.trim();
  if (!t) return '';
  const capital = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

// Turn any thrown value into one or more sentences for the user, ending
// with a full stop.
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'unauthenticated') return 'Your session has expired. Sign in again.';
    return asSentence(err.message);
  }
  if (err instanceof Error) return asSentence(err.message);
  return asSentence(String(err));
}
