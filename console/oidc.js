// Sign-in on AWS: OpenID Connect authorization code with PKCE (RFC 7636) against the
// issuer the API's JWT authorizer trusts. No client secret; the verifier and state
// live in sessionStorage only between the redirect and the code exchange, then are
// removed; the code is removed from the address bar at once.

const PENDING_KEY = "followups.oidc-pending";

function base64url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function challenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

async function discover(issuer) {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const response = await fetch(url, { credentials: "omit" });
  if (!response.ok) throw new Error(`cannot read the issuer's configuration (${response.status})`);
  return response.json();
}

function redirectUri() {
  return `${location.origin}${location.pathname}`;
}

/** Sends the browser to the identity provider. */
export async function startSignIn(auth) {
  const metadata = await discover(auth.issuer);
  const verifier = randomString();
  const state = randomString();
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: auth.client_id,
    redirect_uri: redirectUri(),
    scope: auth.scope || "openid",
    state,
    code_challenge: await challenge(verifier),
    code_challenge_method: "S256",
  });
  if (auth.audience) params.set("audience", auth.audience);
  location.assign(`${metadata.authorization_endpoint}?${params}`);
}

/**
 * After the redirect back: exchanges the code for tokens and returns the one the API
 * accepts (`auth.token`: `id_token` or `access_token`), or null when this page load is
 * not a redirect back.
 */
export async function finishSignIn(auth) {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return null;
  history.replaceState(null, "", redirectUri() + location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  if (query.has("error")) throw new Error(`sign-in refused: ${query.get("error")}`);
  if (!pending || pending.state !== query.get("state")) {
    throw new Error("sign-in answer does not match this browser's request; try again");
  }
  const metadata = await discover(auth.issuer);
  const response = await fetch(metadata.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    credentials: "omit",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: query.get("code"),
      redirect_uri: redirectUri(),
      client_id: auth.client_id,
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new Error(`the code exchange failed (${response.status})`);
  const tokens = await response.json();
  const chosen = tokens[auth.token || "access_token"];
  if (!chosen) throw new Error(`the identity provider returned no ${auth.token || "access_token"}`);
  return chosen;
}
