'use strict';
// Writes COUNT varied links built from the link vectors, one per line, for bench/links.sh:
// every vector's request with a fresh instance id and attribute value, as app links (own and
// web-link library domains), deep links, standard padded base64 and percent-encoded payloads,
// with one bad vector link in every hundred lines and a blank line in every thousand.
//
// Usage: node generate.js VECTORS.json COUNT > links.txt

const fs = require('fs');

const [vectorsPath, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (!vectorsPath || !Number.isInteger(count) || count < 1) {
  console.error('usage: node generate.js VECTORS.json COUNT');
  process.exit(2);
}
const { environments, links, bad } = JSON.parse(fs.readFileSync(vectorsPath, 'utf8'));
const WEB_LIBRARY = { production: 'app.platform.proofspace.id', test: 'app.test.proofspace.id', staging: 'app.stage.proofspace.id' };

function varied(vector, i) {
  const payload = JSON.parse(JSON.stringify(vector.payload));
  if (typeof payload.id === 'string') payload.id = `${payload.id}-${i}`;
  const attribute = payload.preparedCredentials?.[0]?.attributes?.[0];
  if (attribute) attribute.value = `${attribute.value} ${i}`;
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

function link(vector, i) {
  const { scheme, domain } = environments[vector.env];
  const json = varied(vector, i);
  switch (i % 5) {
    case 0: return `https://${domain}/native/execute/${json.toString('base64url')}`;
    case 1: return `${scheme}://${domain}/native/execute/${json.toString('base64url')}`;
    case 2: return `https://${domain}/native/execute/${json.toString('base64')}`;
    case 3: return `https://${domain}/native/execute/${encodeURIComponent(json.toString('base64'))}`;
    default: return `https://${WEB_LIBRARY[vector.env] || domain}/native/execute/${json.toString('base64url')}`;
  }
}

const out = [];
for (let i = 0; i < count; i++) {
  if (i % 100 === 99) out.push(bad[Math.floor(i / 100) % bad.length].link);
  else if (i % 1000 === 500) out.push('');
  else out.push(link(links[i % links.length], i));
}
process.stdout.write(out.join('\n') + '\n');
