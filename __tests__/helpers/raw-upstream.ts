import { once } from 'node:events';
import net from 'node:net';

/** A TCP server standing in for next-hop, scripted byte by byte. */
export interface RawUpstream {
  url: string;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Connections still open. */
  readonly open: Set<net.Socket>;
  close(): Promise<void>;
}

/** A raw TCP upstream on 127.0.0.1 whose behaviour per connection is `onSocket`. */
export async function rawUpstream(
  onSocket: (socket: net.Socket, index: number) => void,
): Promise<RawUpstream> {
  let index = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    onSocket(socket, index++);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    accepted: () => index,
    open,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Call `answer` with the head of each request that arrives on `socket` (request bodies
 * announced by Content-Length are skipped), in order: a minimal HTTP/1.1 server side.
 */
export function onRequests(socket: net.Socket, answer: (head: string, index: number) => void): void {
  let buffer = Buffer.alloc(0);
  let skip = 0;
  let index = 0;
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buffer.length);
        skip -= n;
        buffer = buffer.subarray(n);
        if (skip > 0) return;
      }
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buffer.toString('latin1', 0, end);
      buffer = buffer.subarray(end + 4);
      skip = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      answer(head, index++);
    }
  });
}

/** Wait until `check` holds, polling every 10 ms, for at most `ms`. */
export async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
