function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/**
 * `url` with the value of every query parameter named in `names` (lowercase) replaced by
 * `[REDACTED]`. A URL without a query, or with nothing to redact, is returned as is.
 *
 * @example redactUrl('/a?token=s3cret&x=1', new Set(['token'])) // '/a?token=[REDACTED]&x=1'
 */
export function redactUrl(url: string, names: ReadonlySet<string>): string {
  const q = url.indexOf('?');
  if (q === -1 || names.size === 0) return url;
  const hash = url.indexOf('#', q);
  const end = hash === -1 ? url.length : hash;
  const params = url.slice(q + 1, end).split('&');
  let changed = false;
  for (let i = 0; i < params.length; i++) {
    const eq = params[i].indexOf('=');
    const rawName = eq === -1 ? params[i] : params[i].slice(0, eq);
    if (eq !== -1 && names.has(decodeName(rawName))) {
      params[i] = `${rawName}=[REDACTED]`;
      changed = true;
    }
  }
  return changed ? `${url.slice(0, q + 1)}${params.join('&')}${url.slice(end)}` : url;
}
