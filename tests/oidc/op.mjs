// A real OpenID provider for the sign-in tests: panva/oidc-provider (OpenID Certified), on
// loopback, with its development login form (any password) and the accounts below, whose
// claims have the shapes Keycloak (groups with full paths), Entra ID (roles, an `ars` claim)
// and a provider that maps to nothing give. Started by the tests (node directly, so the pid is
// the server's); prints "ready <issuer>" when it listens.
//
// Environment: OP_PORT (required), OP_KID (the signing key's id; a fresh RSA key per start:
// restarting with another kid is a key rotation), OP_CLIENT_ID, OP_CLIENT_SECRET,
// OP_REDIRECT_URI, OP_POST_LOGOUT_URI, OP_TAMPER ("signature": the ID token's payload is altered
// after signing; "iss": the authorization response names another issuer), OP_ID_TOKEN_TTL
// (seconds).
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const port = Number(env('OP_PORT'));
if (!port) {
  console.error('OP_PORT is required');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const kid = env('OP_KID', 'k1');
const tamper = env('OP_TAMPER', '');

const accounts = {
  // Keycloak-shaped: groups with full paths, the administration as a group under /kommunen/.
  'petra': { name: 'Petra Projekt', email: 'petra.projekt@mik.example', groups: ['/efa/projektleitung'] },
  'klara': {
    name: 'Klara Kommune',
    email: 'klara.kommune@potsdam.example',
    groups: ['/efa/kommune', '/kommunen/120540000000'],
  },
  // Entra-shaped: app roles and a claim with ARS.
  'erik': { name: 'Erik Entra', email: 'erik@cottbus.example', roles: ['efa.staff'], ars: ['120520000000'] },
  // Maps to no role.
  'niemand': { name: 'Nora Niemand', email: 'nora@example.org', groups: ['/andere/gruppe'] },
  // An administration the catalogue does not know.
  'fremd': { name: 'Fritz Fremd', email: 'fritz@example.org', groups: ['/efa/kommune', '/kommunen/129999999999'] },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: env('OP_CLIENT_ID', 'efa-rollout'),
    client_secret: env('OP_CLIENT_SECRET', 'efa-geheim'),
    redirect_uris: [env('OP_REDIRECT_URI', 'http://127.0.0.1:8080/auth/callback')],
    post_logout_redirect_uris: [env('OP_POST_LOGOUT_URI', 'http://127.0.0.1:8080/')],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  scopes: ['openid', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'groups', 'roles', 'ars'],
    email: ['email'],
  },
  // Claims in the ID token (as Keycloak does with "add to ID token").
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: `sub-${id}`, ...account }) };
  },
  // No consent screen: the test client is first-party.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
  ttl: { IdToken: Number(env('OP_ID_TOKEN_TTL', '300')) },
  cookies: { keys: ['efa-rollout-test-op'] },
  jwks: { keys: [jwk] },
});

provider.use(async (ctx, next) => {
  await next();
  if (tamper === 'signature' && ctx.path === '/token' && ctx.body && ctx.body.id_token) {
    const [header, payload, signature] = ctx.body.id_token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.groups = ['/efa/projektleitung'];
    const altered = Buffer.from(JSON.stringify(claims)).toString('base64url');
    ctx.body = { ...ctx.body, id_token: `${header}.${altered}.${signature}` };
  }
  if (tamper === 'iss') {
    const location = ctx.response.get('location');
    if (location && location.includes('code=')) {
      const url = new URL(location);
      url.searchParams.set('iss', 'http://127.0.0.1:1/fremder-dienst');
      ctx.redirect(url.toString());
    }
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer} kid=${kid}`);
});
