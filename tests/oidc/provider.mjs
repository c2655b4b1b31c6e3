// A real OpenID Connect provider (the certified npm `oidc-provider`) for the sign-in test.
// Loopback only. Usage: node provider.mjs PORT REDIRECT_URI CLIENT_ID CLIENT_SECRET
// Any user name signs in (oidc-provider's development login page); the account id is the
// name typed, and the e-mail claim is NAME@clinic.test.
import Provider from 'oidc-provider';

const [port, redirectUri, clientId, clientSecret] = process.argv.slice(2);
if (!port || !redirectUri || !clientId || !clientSecret) {
  console.error('usage: node provider.mjs PORT REDIRECT_URI CLIENT_ID CLIENT_SECRET');
  process.exit(2);
}

const configuration = {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false, // put e-mail and name in the ID token, where Streamlit reads them
  pkce: { required: () => false },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['bala-test-only-cookie-key'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@clinic.test`, email_verified: true, name: id };
      },
    };
  },
};

const provider = new Provider(`http://127.0.0.1:${port}`, configuration);
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider ready on http://127.0.0.1:${port}`);
});
