'use strict';
// Reference decoder for bench/links.sh: what a small Node.js service would do with js-base64 and
// JSON.parse, writing the same JSON lines as `psi link decode --batch` ({"line":N,"request":...}
// or {"line":N,"error":{"code","message"}}), with the same main checks.
//
// Usage: node decode.js LINKS.txt > out.jsonl

const fs = require('fs');
const { Base64 } = require('js-base64');

const DOMAINS = {
  'proofspace.id': 'production', 'test.proofspace.id': 'test', 'stage.proofspace.id': 'staging',
  'prod-test.proofspace.id': 'preprod', 'app.platform.proofspace.id': 'production',
  'app.test.proofspace.id': 'test', 'app.stage.proofspace.id': 'staging', 'platform.proofspace.id': 'production',
};
const SCHEMES = { zakaio: 'production', testzakaio: 'test', stagezakaio: 'staging', prodtestzakaio: 'preprod' };
const REFUSED_CALLBACK = new Set(['javascript', 'vbscript', 'data', 'file', 'blob', 'filesystem']);
const EXECUTE = '/native/execute/';
const LINK = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

class LinkError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

function validate(req) {
  if (req.sourceURL !== undefined && !/^https?:\/\/./i.test(req.sourceURL)) {
    throw new LinkError('source_url_not_http', `sourceURL \`${req.sourceURL}\` is not an http(s) URL`);
  }
  if (req.callback) {
    const scheme = SCHEME.exec(req.callback);
    if (!scheme) throw new LinkError('invalid_callback', `callback \`${req.callback}\` is not a valid URL`);
    if (REFUSED_CALLBACK.has(scheme[1].toLowerCase())) {
      throw new LinkError('refused_callback_scheme', `callback scheme \`${scheme[1]}:\` is refused`);
    }
  }
  if (req.sourceURL === undefined) {
    for (const field of ['actionId', 'serviceDid']) {
      if (!req[field]) throw new LinkError('missing_field', `the request has no \`${field}\``);
    }
  }
}

function decode(link) {
  const parts = LINK.exec(link);
  if (!parts) throw new LinkError('not_a_link', 'not a link');
  const scheme = parts[1].toLowerCase();
  const env = DOMAINS[parts[2].toLowerCase()];
  if (scheme !== 'https' && !(scheme in SCHEMES)) throw new LinkError('unknown_scheme', `unknown link scheme \`${parts[1]}\``);
  if (env === undefined || (scheme !== 'https' && SCHEMES[scheme] !== env)) {
    throw new LinkError('unknown_domain', `unknown link domain \`${parts[2]}\``);
  }
  if (!parts[3].startsWith(EXECUTE)) throw new LinkError('wrong_path', `wrong link path \`${parts[3]}\``);
  let payload = parts[3].slice(EXECUTE.length).replace(/\/$/, '');
  if (!payload) throw new LinkError('empty_payload', 'the link has an empty payload');
  try {
    payload = decodeURIComponent(payload);
  } catch {
    throw new LinkError('bad_base64', 'the link payload is not base64');
  }
  if (!Base64.isValid(payload)) throw new LinkError('bad_base64', 'the link payload is not base64');
  let req;
  try {
    req = JSON.parse(Base64.decode(payload));
  } catch (e) {
    throw new LinkError('not_json', `the link payload is not JSON: ${e.message}`);
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    throw new LinkError('not_an_object', 'the link payload is JSON but not an object');
  }
  validate(req);
  return req;
}

const path = process.argv[2];
if (!path) {
  console.error('usage: node decode.js LINKS.txt');
  process.exit(2);
}
const lines = fs.readFileSync(path === '-' ? 0 : path, 'utf8').split('\n');
const out = [];
let ok = 0;
let failed = 0;
for (let i = 0; i < lines.length; i++) {
  const link = lines[i].trim();
  if (!link) continue;
  try {
    out.push(`{"line":${i + 1},"request":${JSON.stringify(decode(link))}}`);
    ok++;
  } catch (e) {
    if (!(e instanceof LinkError)) throw e;
    out.push(JSON.stringify({ line: i + 1, error: { code: e.code, message: e.message } }));
    failed++;
  }
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
console.error(`decoded ${ok + failed} links: ${ok} ok, ${failed} failed`);
process.exitCode = failed ? 3 : 0;
