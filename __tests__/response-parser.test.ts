import {
  Framing,
  ResponseParseError,
  ResponseParser,
  type ResponseHead,
} from '../middleware/next-hop-proxy/response-parser';

interface Parsed {
  head?: ResponseHead;
  body: string;
  lastSeen: boolean;
  ends: number;
  complete: boolean;
  excess: boolean;
}

/** Feed `wire` to a fresh parser in the given pieces (then EOF when `eof`), recording what it says. */
function parse(pieces: readonly Buffer[], { head = false, eof = false } = {}): Parsed {
  const out: Parsed = { body: '', lastSeen: false, ends: 0, complete: false, excess: false };
  const parser = new ResponseParser(16 * 1024);
  parser.start(
    {
      responseHead: (h) => void (out.head = h),
      responseBody: (chunk, last) => {
        if (out.lastSeen) throw new Error('body after the last slice');
        out.body += chunk.toString('latin1');
        out.lastSeen = last;
      },
      responseEnd: () => void out.ends++,
    },
    head,
  );
  for (const piece of pieces) parser.execute(piece);
  if (eof) parser.finish();
  out.complete = parser.complete;
  out.excess = parser.excess;
  return out;
}

/** Every way of cutting `wire` in two, plus byte by byte: a parser must not care where chunks end. */
function splits(wire: string): Buffer[][] {
  const bytes = Buffer.from(wire, 'latin1');
  const ways: Buffer[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) ways.push([bytes.subarray(0, i), bytes.subarray(i)]);
  ways.push([...bytes].map((b) => Buffer.from([b])));
  return ways;
}

const OK = 'HTTP/1.1 200 OK\r\n';

describe('valid responses: same result however the bytes are cut', () => {
  const rows: [string, string, { head?: boolean; eof?: boolean }, Partial<ResponseHead>, string][] = [
    [
      'Content-Length',
      `${OK}Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`,
      {},
      {
        status: 200,
        framing: Framing.Length,
        keepAlive: true,
        fields: ['Content-Type', 'text/plain', 'Content-Length', '5'],
      },
      'hello',
    ],
    [
      'chunked, with extensions and trailers',
      `${OK}Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: t\r\n\r\n`,
      {},
      { framing: Framing.Chunked, keepAlive: true },
      'hello, world!!!',
    ],
    [
      'chunked, upper-case hex',
      `${OK}Transfer-Encoding: chunked\r\n\r\nF\r\n0123456789abcde\r\n0\r\n\r\n`,
      {},
      { framing: Framing.Chunked },
      '0123456789abcde',
    ],
    [
      'gzip, chunked: the last coding frames it',
      `${OK}Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      {},
      { framing: Framing.Chunked },
      'abc',
    ],
    [
      'no length: until the connection closes',
      `${OK}Content-Type: text/plain\r\n\r\nstream`,
      { eof: true },
      { framing: Framing.UntilClose, keepAlive: false },
      'stream',
    ],
    [
      'HTTP/1.0 with keep-alive and a length',
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok',
      {},
      { keepAlive: true },
      'ok',
    ],
    [
      'HTTP/1.0 without keep-alive',
      'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
      {},
      { keepAlive: false },
      'ok',
    ],
    [
      'Connection: close',
      `${OK}Connection: Keep-Alive, close\r\nContent-Length: 2\r\n\r\nok`,
      {},
      { keepAlive: false },
      'ok',
    ],
    [
      'a Keep-Alive hint',
      `${OK}Keep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n`,
      {},
      { keepAliveMs: 5000, framing: Framing.None },
      '',
    ],
    ['Content-Length 0', `${OK}Content-Length: 0\r\n\r\n`, {}, { framing: Framing.None }, ''],
    [
      '204 ignores a length',
      'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n',
      {},
      { status: 204, framing: Framing.None },
      '',
    ],
    ['304', 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', {}, { status: 304, framing: Framing.None }, ''],
    [
      'a HEAD response has no body',
      `${OK}Content-Length: 1000\r\n\r\n`,
      { head: true },
      { framing: Framing.None },
      '',
    ],
    [
      'interim 100 and 103 are skipped',
      `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n${OK}Content-Length: 1\r\n\r\nx`,
      {},
      { status: 200, fields: ['Content-Length', '1'] },
      'x',
    ],
    [
      'an empty reason, spaces around values, an empty value',
      'HTTP/1.1 404 \r\nX-A:   padded  \r\nX-Empty:\r\nContent-Length: 0\r\n\r\n',
      {},
      { status: 404, reason: '', fields: ['X-A', 'padded', 'X-Empty', '', 'Content-Length', '0'] },
      '',
    ],
    [
      'repeated equal lengths: one field relayed',
      `${OK}Content-Length: 3\r\nX-A: 1\r\nContent-Length: 3, 3\r\n\r\nabc`,
      {},
      { framing: Framing.Length, fields: ['X-A', '1', 'Content-Length', '3'] },
      'abc',
    ],
    [
      'Transfer-Encoding wins over Content-Length, which is dropped',
      `${OK}Content-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n`,
      {},
      { framing: Framing.Chunked, keepAlive: false, fields: ['Transfer-Encoding', 'chunked'] },
      'z',
    ],
    [
      'obs-text in a value and the reason',
      'HTTP/1.1 200 \xe9t\xe9\r\nX-Latin: caf\xe9\r\nContent-Length: 0\r\n\r\n',
      {},
      { reason: '\xe9t\xe9', fields: ['X-Latin', 'caf\xe9', 'Content-Length', '0'] },
      '',
    ],
  ];

  test.each(rows)('%s', (_name, wire, opts, head, body) => {
    for (const pieces of splits(wire)) {
      const out = parse(pieces, opts);
      expect(out.head).toMatchObject(head);
      expect(out.body).toBe(body);
      expect([out.complete, out.ends, out.excess]).toEqual([true, 1, false]);
      // The slice that completes a framed body says so (the exchange then ends `res` with it).
      if (out.head?.framing === Framing.Length || out.head?.framing === Framing.Chunked)
        expect(out.lastSeen).toBe(true);
    }
  });
});

describe('incomplete and excess input', () => {
  test('a body cut short is never complete; EOF ends only a body without length', () => {
    expect(parse([Buffer.from(`${OK}Content-Length: 5\r\n\r\nhel`)], { eof: true })).toMatchObject({
      complete: false,
      ends: 0,
      body: 'hel',
    });
    expect(
      parse([Buffer.from(`${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhel`)], { eof: true }),
    ).toMatchObject({ complete: false, ends: 0 });
    const headCut = parse([Buffer.from(`${OK}Content-Len`)], { eof: true });
    expect([headCut.complete, headCut.head]).toEqual([false, undefined]);
    expect(parse([Buffer.from(`${OK}\r\nabc`)], { eof: false })).toMatchObject({
      complete: false,
      body: 'abc',
    });
  });

  test('bytes after the end of a response mark the connection as out of step', () => {
    const out = parse([Buffer.from(`${OK}Content-Length: 2\r\n\r\nokEXTRA`)]);
    expect(out).toMatchObject({ complete: true, body: 'ok', excess: true });
  });
});

describe('invalid responses throw a ResponseParseError with a code', () => {
  const big = `X-Big: ${'a'.repeat(17 * 1024)}\r\n`;
  const rows: [string, string, string][] = [
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n', 'HPE_INVALID_STATUS'],
    ['HTTP/2 status line', 'HTTP/2 200\r\n\r\n', 'HPE_INVALID_STATUS'],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', 'HPE_INVALID_STATUS'],
    ['a header line without colon', `${OK}Bogus\r\n\r\n`, 'HPE_INVALID_HEADER_TOKEN'],
    ['a space before the colon', `${OK}Content-Length : 1\r\n\r\nx`, 'HPE_INVALID_HEADER_TOKEN'],
    ['obs-fold', `${OK}X-A: one\r\n two\r\nContent-Length: 0\r\n\r\n`, 'HPE_OBS_FOLD'],
    ['a bad Content-Length', `${OK}Content-Length: 1x\r\n\r\n`, 'HPE_INVALID_CONTENT_LENGTH'],
    ['a negative Content-Length', `${OK}Content-Length: -1\r\n\r\n`, 'HPE_INVALID_CONTENT_LENGTH'],
    [
      'Content-Length fields that disagree',
      `${OK}Content-Length: 1\r\nContent-Length: 2\r\n\r\n`,
      'HPE_UNEXPECTED_CONTENT_LENGTH',
    ],
    ['a bad chunk size', `${OK}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, 'HPE_INVALID_CHUNK_SIZE'],
    [
      'a chunk longer than its size',
      `${OK}Transfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n`,
      'HPE_STRICT',
    ],
    ['a chunk line ended by a bare LF', `${OK}Transfer-Encoding: chunked\r\n\r\n1\nz\r\n`, 'HPE_LF_EXPECTED'],
    ['a head ended by bare LFs', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', 'HPE_CR_EXPECTED'],
    [
      '101 to a plain request',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n',
      'HPE_UNEXPECTED_UPGRADE',
    ],
    ['a head larger than the limit', `${OK}${big}\r\n`, 'HPE_HEADER_OVERFLOW'],
    ['a head larger than the limit, never ended', `${OK}${big}`, 'HPE_HEADER_OVERFLOW'],
    [
      'an endless chunk extension',
      `${OK}Transfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(5000)}`,
      'HPE_CHUNK_EXTENSIONS_OVERFLOW',
    ],
  ];

  test.each(rows.map(([name, wire, code]) => [name, code, wire]))('%s → %s', (_name, code, wire) => {
    for (const pieces of [splits(wire)[0], splits(wire)[Math.min(20, wire.length - 1)]]) {
      let thrown: unknown;
      try {
        parse(pieces);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ResponseParseError);
      expect((thrown as ResponseParseError).code).toBe(code);
      expect((thrown as Error).message).toMatch(/^next-hop sent an invalid response: /);
    }
  });
});

test('one parser serves response after response (reset per request)', () => {
  const parser = new ResponseParser(16 * 1024);
  const bodies: string[] = [];
  for (const body of ['one', 'two', 'three']) {
    let got = '';
    parser.start(
      { responseHead: () => {}, responseBody: (c) => void (got += c.toString()), responseEnd: () => {} },
      false,
    );
    parser.execute(Buffer.from(`${OK}Content-Length: ${body.length}\r\n\r\n${body}`));
    expect(parser.complete).toBe(true);
    bodies.push(got);
  }
  expect(bodies).toEqual(['one', 'two', 'three']);
  parser.detach();
  expect(() => parser.execute(Buffer.from('late bytes'))).not.toThrow();
});
