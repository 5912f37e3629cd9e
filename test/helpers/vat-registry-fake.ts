/**
 * A fake VIES REST API and HMRC "Check a UK VAT number" API on 127.0.0.1, for tests: answers by number
 * from a table (registered, not registered, MS_UNAVAILABLE, slow), counting calls.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeAnswer = 'registered' | 'not_registered' | 'unavailable' | 'slow';

export interface VatRegistryFake {
  url: string;
  calls: string[];
  answers: Map<string, FakeAnswer>;
  close(): Promise<void>;
}

export async function startVatRegistryFake(): Promise<VatRegistryFake> {
  const answers = new Map<string, FakeAnswer>();
  const calls: string[] = [];
  const slow = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const json = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (req.method === 'POST' && req.url === '/vies/check-vat-number') {
        const b = JSON.parse(body) as { countryCode: string; vatNumber: string };
        const key = `${b.countryCode}${b.vatNumber}`;
        calls.push(`vies:${key}`);
        const a = answers.get(key) ?? 'registered';
        if (a === 'slow') return void slow.add(res);
        if (a === 'unavailable') return json(200, { actionSucceed: false, errorWrappers: [{ error: 'MS_UNAVAILABLE' }] });
        return json(200, { countryCode: b.countryCode, vatNumber: b.vatNumber, valid: a === 'registered', requestIdentifier: a === 'registered' ? `WAPIAAAA${b.vatNumber}` : '', name: a === 'registered' ? 'Kunde GmbH' : '---' });
      }
      const m = /^\/hmrc\/organisations\/vat\/check-vat-number\/lookup\/(\d{9})$/.exec(req.url ?? '');
      if (req.method === 'GET' && m) {
        const key = `GB${m[1]}`;
        calls.push(`hmrc:${key}`);
        if (req.headers.authorization !== 'Bearer hmrc-test-token') return json(401, { code: 'MISSING_CREDENTIALS' });
        const a = answers.get(key) ?? 'registered';
        if (a === 'slow') return void slow.add(res);
        if (a === 'unavailable') return json(503, { code: 'SERVER_ERROR' });
        if (a === 'not_registered') return json(404, { code: 'NOT_FOUND', reason: 'targetVrn does not match a registered VAT account' });
        return json(200, { target: { name: 'Customer Ltd', vatNumber: m[1], address: { line1: '1 High St', countryCode: 'GB' } }, processingDate: '2026-12-01T10:00:00+00:00' });
      }
      json(404, { error: 'no such route' });
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    answers,
    close: async () => {
      for (const r of slow) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
