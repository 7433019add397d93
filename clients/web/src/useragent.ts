// Short names for browsers from User-Agent strings, for session lists and
// the signaling roster. Unknown strings fall back to generic words.

export function browserName(ua: string): string {
  if (/Edg\//.test(ua)) return 'Edge';
  if (/Firefox\//.test(ua)) return 'Firefox';
  if (/Chrome\//.test(ua)) return 'Chrome';
  if (/Safari\//.test(ua)) return 'Safari';
  return 'Browser';
}

export function systemName(ua: string): string {
  if (/Android/.test(ua)) return 'Android';
  if (/iPhone|iPad/.test(ua)) return 'iOS';
  if (/Mac OS/.test(ua)) return 'macOS';
  if (/Windows/.test(ua)) return 'Windows';
  if (/Linux/.test(ua)) return 'Linux';
  return '';
}

// describeUserAgent returns "Chrome on Linux" and the like.
export function describeUserAgent(ua: string): string {
  const os = systemName(ua);
  return os ? `${browserName(ua)} on ${os}` : browserName(ua);
}
