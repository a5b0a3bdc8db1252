// npm run bench:delay-proxy -- --listen 15432 --target 5432 --delay-ms 1
// A TCP proxy that delays every chunk by --delay-ms in each direction (order kept), to measure
// the benchmarks as if PostgreSQL were across a network: point a benchmark's --server at the
// proxy's port. (`tc netem` would do this in the kernel, but these machines lack the module.)
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '15432' },
    target: { type: 'string', default: '5432' },
    host: { type: 'string', default: '127.0.0.1' },
    'delay-ms': { type: 'string', default: '1' },
  },
});
const delay = Number(values['delay-ms']);

net
  .createServer((client) => {
    const server = net.connect(Number(values.target), values.host);
    // Timers of equal delay fire in the order they were set, so chunks keep their order.
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), delay));
      from.on('end', () => setTimeout(() => to.end(), delay));
      from.on('error', () => to.destroy());
    };
    forward(client, server);
    forward(server, client);
  })
  .listen(Number(values.listen), values.host, () => {
    console.log(`delaying ${values.host}:${values.listen} -> ${values.host}:${values.target} by ${delay} ms each way`);
  });
