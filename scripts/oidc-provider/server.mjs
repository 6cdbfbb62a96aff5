// A real OpenID Connect provider (node-oidc-provider, the certified implementation) for the portal's
// SSO tests and for `make run`. It listens on loopback only, has one confidential client and three
// test users with a `groups` claim, and a plain login page a browser test can fill in.
//
// Usage: node server.mjs [port]      (or OIDC_PORT; 0 = any free port; the chosen one is printed)
// Environment:
//   OIDC_PORT                 port (default 0)
//   OIDC_CLIENT_ID            default "portal"
//   OIDC_CLIENT_SECRET        default "portal-test-secret"
//   OIDC_REDIRECT_URIS        comma-separated redirect URIs of the client
//                             (default http://127.0.0.1:8000/api/auth/oidc/local/callback/,
//                              http://testserver/api/auth/oidc/local/callback/)
//   OIDC_POST_LOGOUT_URIS     comma-separated post-logout redirect URIs (default http://127.0.0.1:8000/login)
//   OIDC_ID_TOKEN_CLAIMS      "all" puts profile/email/groups claims in the ID token; default "minimal"
//                             (the ID token has sub only, the rest comes from userinfo, as many providers do)
//
// Login page (GET /interaction/<uid>): a form with fields `username` and `password` and a submit button
// `#sign-in` (name="submit"); a wrong password shows the page again with `.error` "Invalid username or password."
// Consent is granted automatically for the test client (it is first-party).
//
// Test users (password = "<username>-password"):
//   alice  groups [devs]          bob  groups [ops, devs]          carol  groups []
//
// Test-only endpoints (loopback, for tests of the relying party; never part of a real provider):
//   POST /_test/rotate            a new signing key becomes the first of the JWKS (the old one stays published)
//   POST /_test/next-id-token     JSON {claims?: {...overrides, null deletes}, sign?: "current"|"rogue"|"none",
//                                 kid?: "..."}: the NEXT token response's id_token is re-issued with these
//                                 changes (wrong iss/aud, expired, bad signature, unknown kid, alg none, ...)
//   POST /_test/redirect-uris     JSON {uris: [...]}: add redirect URIs to the test client (a live server's port)
//   POST /_test/users/<name>/groups   JSON {groups: [...]}: change a user's groups
//   GET  /_test/stats             JSON {userinfo, token}: how many requests those endpoints got
//   GET  /_test/health            200 "ok"
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.OIDC_PORT ?? 0);
const host = '127.0.0.1';
const clientId = process.env.OIDC_CLIENT_ID || 'portal';
const clientSecret = process.env.OIDC_CLIENT_SECRET || 'portal-test-secret';
let redirectUris = (process.env.OIDC_REDIRECT_URIS
  || 'http://127.0.0.1:8000/api/auth/oidc/local/callback/,http://testserver/api/auth/oidc/local/callback/')
  .split(',').map((s) => s.trim()).filter(Boolean);
const postLogoutUris = (process.env.OIDC_POST_LOGOUT_URIS || 'http://127.0.0.1:8000/login,http://testserver/login')
  .split(',').map((s) => s.trim()).filter(Boolean);
const allClaimsInIdToken = process.env.OIDC_ID_TOKEN_CLAIMS === 'all';

const users = {
  alice: { email: 'alice@example.test', name: 'Alice Example', groups: ['devs'] },
  bob: { email: 'bob@example.test', name: 'Bob Example', groups: ['ops', 'devs'] },
  carol: { email: 'carol@example.test', name: 'Carol Example', groups: [] },
};

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `k-${randomUUID().slice(0, 8)}`, alg: 'RS256', use: 'sig' };
}

let keys = [newSigningKey(), newSigningKey()];
const rogueKey = newSigningKey(); // never published: signs "bad signature" and "unknown kid" tokens
let nextIdToken = null;
const stats = { userinfo: 0, token: 0 };
let provider;
let issuer;

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function loginPage(uid, error) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Test OIDC provider: sign in</title></head>
<body><h1>Sign in to the test identity provider</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label>Username <input name="username" id="username" autofocus></label>
<label>Password <input name="password" id="password" type="password"></label>
<button type="submit" id="sign-in" name="submit">Sign in</button>
</form></body></html>`;
}

function makeProvider() {
  const p = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      post_logout_redirect_uris: postLogoutUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    conformIdTokenClaims: !allClaimsInIdToken,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['test-cookie-key'] },
    async findAccount(ctx, sub) {
      const user = users[sub];
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub, preferred_username: sub, name: user.name, email: user.email, email_verified: true, groups: user.groups,
          };
        },
      };
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      // the test client is first-party: consent is implied
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid profile email groups');
      grant.addOIDCClaims(['sub', 'name', 'preferred_username', 'email', 'email_verified', 'groups']);
      await grant.save();
      return grant;
    },
  });
  p.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.method === 'POST' && nextIdToken && ctx.body?.id_token) {
      const change = nextIdToken;
      nextIdToken = null;
      ctx.body = { ...ctx.body, id_token: await reissue(ctx.body.id_token, change) };
    }
  });
  return p;
}

async function reissue(idToken, change) {
  const claims = jose.decodeJwt(idToken);
  const header = jose.decodeProtectedHeader(idToken);
  for (const [k, v] of Object.entries(change.claims || {})) {
    if (v === null) delete claims[k]; else claims[k] = v;
  }
  const sign = change.sign || 'current';
  if (sign === 'none') {
    const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
  }
  const jwk = sign === 'rogue' ? rogueKey : keys[0];
  const kid = change.kid || (sign === 'rogue' ? header.kid : jwk.kid);
  const key = await jose.importJWK(jwk, 'RS256');
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
    .sign(key);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

async function handle(req, res) {
  const url = new URL(req.url, issuer);
  const path = url.pathname;
  try {
    if (path === '/_test/health') return send(res, 200, 'ok', 'text/plain');
    if (path === '/_test/stats') return send(res, 200, JSON.stringify(stats), 'application/json');
    if (path === '/me') stats.userinfo += 1;
    if (path === '/token') stats.token += 1;
    if (path === '/_test/rotate' && req.method === 'POST') {
      keys = [newSigningKey(), keys[0]];
      provider = makeProvider();
      return send(res, 200, JSON.stringify({ kids: keys.map((k) => k.kid) }), 'application/json');
    }
    if (path === '/_test/next-id-token' && req.method === 'POST') {
      nextIdToken = JSON.parse((await readBody(req)) || '{}');
      return send(res, 200, '{}', 'application/json');
    }
    if (path === '/_test/redirect-uris' && req.method === 'POST') {
      const added = JSON.parse((await readBody(req)) || '{}').uris || [];
      redirectUris = [...new Set([...redirectUris, ...added])];
      provider = makeProvider();
      return send(res, 200, JSON.stringify({ redirect_uris: redirectUris }), 'application/json');
    }
    const groupsMatch = path.match(/^\/_test\/users\/([^/]+)\/groups$/);
    if (groupsMatch && req.method === 'POST') {
      const user = users[groupsMatch[1]];
      if (!user) return send(res, 404, 'no such user', 'text/plain');
      user.groups = JSON.parse(await readBody(req)).groups || [];
      return send(res, 200, '{}', 'application/json');
    }
    const interaction = path.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (interaction) {
      const details = await provider.interactionDetails(req, res);
      if (interaction[2] && req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req));
        const username = form.get('username') || '';
        if (!users[username] || form.get('password') !== `${username}-password`) {
          return send(res, 200, loginPage(details.uid, 'Invalid username or password.'));
        }
        return provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
      }
      if (details.prompt.name === 'login') return send(res, 200, loginPage(details.uid));
      // consent: implied for the first-party test client (loadExistingGrant creates the grant)
      const grant = new provider.Grant({ clientId: details.params.client_id, accountId: details.session.accountId });
      grant.addOIDCScope('openid profile email groups');
      grant.addOIDCClaims(['sub', 'name', 'preferred_username', 'email', 'email_verified', 'groups']);
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    return provider.callback()(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, 400, `${escapeHtml(err.message || err)}`, 'text/plain');
  }
}

const server = http.createServer((req, res) => { handle(req, res); });
server.listen(port, host, () => {
  issuer = `http://${host}:${server.address().port}`;
  provider = makeProvider();
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
