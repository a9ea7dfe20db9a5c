// The parley.v1 data-channel protocol as the demo client sees it (docs/protocol.md is the reference).
export const PROTOCOL = 'parley.v1';

// Sets up a session: POSTs the offer (JSON variant, carrying session options) and returns
// { id, sdp, location }. Throws an Error with the server's message on refusal.
export async function createSession(offerSdp, options = {}) {
  const response = await fetch('/v1/sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sdp: offerSdp, session: options }),
  });
  const body = await response.json().catch(() => ({}));
  if (response.status !== 201) {
    const message = body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

export async function deleteSession(location) {
  await fetch(location, { method: 'DELETE' }).catch(() => {});
}

// Client events.
export const cancelResponse = () => JSON.stringify({ type: 'response.cancel' });
export const updateSession = (session) => JSON.stringify({ type: 'session.update', session });
