/** HOST:PORT for --http: 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080, or a port alone (loopback). */
export function parseListen(s: string): { host: string; port: number } {
  const t = s.trim();
  const m = /^(\d{1,5})$/.exec(t) ?? /^:(\d{1,5})$/.exec(t);
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(t);
  const named = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(t);
  const [host, port] = m !== null ? ['127.0.0.1', Number(m[1])] : v6 !== null ? [v6[1], Number(v6[2])] : named !== null ? [named[1], Number(named[2])] : ['', NaN];
  if (host === '' || !(port <= 65535)) throw new Error(`--http "${s}" is not HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, or 8080 for loopback)`);
  return { host, port };
}
