// The API client: the session's token (memory + sessionStorage only), JSON and
// problem+json. Everything the console shows comes through here.

const TOKEN_KEY = "followups.session-token";
let token = sessionStorage.getItem(TOKEN_KEY);
let onSignedOut = () => {};

export function signedIn() {
  return Boolean(token);
}

export function setToken(value) {
  token = value;
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function signOut() {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

/** An error answer of the API (RFC 9457 problem details). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  /** `[{field, message}]` of a validation failure (empty otherwise). */
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

/**
 * Calls the API. Returns `{status, etag, body}`; throws ApiError on 4xx/5xx.
 * A 401 signs the session out (unless `probe`: trying a token at sign-in).
 */
export async function api(method, path, { body, ifMatch, signal, probe = false } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch) headers["If-Match"] = ifMatch;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: text };
  }
  if (!response.ok) {
    if (response.status === 401 && token && !probe) {
      signOut();
      onSignedOut();
    }
    throw new ApiError(response.status, parsed || {});
  }
  return { status: response.status, etag: response.headers.get("ETag"), body: parsed };
}

/** `encodeURIComponent` for one path segment. */
export const seg = (value) => encodeURIComponent(value);

/** The console's configuration (how to sign in), served beside it. */
export async function loadConfig() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (response.ok) return await response.json();
  } catch {
    // fall through to the local default
  }
  return { auth: { kind: "token" } };
}
