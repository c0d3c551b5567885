import { describe, expect, it } from 'vitest';
import { bytesOf, decodeString, fdPathOf, numOf, parseCall, StraceParser, textOf, type Syscall } from './strace-parse.js';

// Lines in the shape `strace -f -ttt -T -yy -x -X raw` prints them (taken from real traces, shortened).
describe('strace parser', () => {
  it('decodes strings: printable with C escapes, or all hex', () => {
    expect(decodeString('hi\\n').toString()).toBe('hi\n');
    expect(decodeString('a\\"b\\\\c\\t').toString()).toBe('a"b\\c\t');
    expect([...decodeString('\\x00\\xff\\x41')]).toEqual([0, 255, 0x41]);
    expect([...decodeString('\\0\\177')]).toEqual([0, 127]);
  });

  it('parses descriptors with their decorations, octal modes and raw flags', () => {
    const c = parseCall('openat(-100</tmp/x>, "/tmp/x/d/a.txt", 0x80241, 0666) = 18</tmp/x/d/a.txt> <0.000090>');
    expect(c.name).toBe('openat');
    expect(fdPathOf(c.args[0])).toBe('/tmp/x');
    expect(numOf(c.args[0])).toBe(-100);
    expect(textOf(c.args[1])).toBe('/tmp/x/d/a.txt');
    expect(numOf(c.args[2])).toBe(0x80241);
    expect(numOf(c.args[3])).toBe(0o666);
    expect([c.ret, c.retFd]).toEqual([18, '/tmp/x/d/a.txt']);
  });

  it('parses nested decorations, sockets with "->", iovecs, structs with "=>" and errors', () => {
    expect(fdPathOf(parseCall('fcntl(0</dev/null<char 1:3>>, 0x3) = 0x8000 (flags O_RDONLY|O_LARGEFILE) <0.000132>').args[0])).toBe('/dev/null<char 1:3>');
    const w = parseCall('writev(37<TCP:[127.0.0.1:36378->127.0.0.1:44373]>, [{iov_base="@", iov_len=1}, {iov_base="\\x02", iov_len=1}], 2) = 2 <0.000078>');
    expect(fdPathOf(w.args[0])).toBe('TCP:[127.0.0.1:36378->127.0.0.1:44373]');
    const iov = w.args[1];
    expect(iov.kind === 'array' && iov.items.map((i) => (i.kind === 'struct' ? [...bytesOf(i.fields.iov_base)] : []))).toEqual([[0x40], [2]]);
    const cl = parseCall('clone3({flags=0x3d0f00, child_tid=0x7f31, exit_signal=0, stack=0x7f31, stack_size=0x7ffe80} => {parent_tid=[21976]}, 88) = 21976 <0.000193>');
    expect(cl.args[0].kind === 'struct' && numOf(cl.args[0].fields.flags)).toBe(0x3d0f00);
    expect(numOf(parseCall('clone(child_stack=NULL, flags=0x1200000|17, child_tidptr=0x7f31) = 21986 <0.000410>').args[1])).toBe(0x1200011);
    const u = parseCall('unlink("/tmp/x/nonexist") = -1 ENOENT (No such file or directory) <0.000056>');
    expect([u.ret, u.errno]).toEqual([-1, 'ENOENT']);
    expect(parseCall('exit_group(0) = ?').ret).toBeUndefined();
    expect(parseCall('execve("/usr/bin/node", ["node", "t.mjs"], 0x7ffe /* 35 vars */) = 0 <0.000289>').ret).toBe(0);
  });

  it('joins unfinished calls with their resumption and keeps where each started', () => {
    const calls: Syscall[] = [];
    const exits: number[] = [];
    const p = new StraceParser((c) => calls.push(c), (e) => exits.push(e.tid));
    for (const l of [
      '10 1.000001 fsync(5</d/f> <unfinished ...>',
      '11 1.000002 pwrite64(6</d/g>, "ab", 2, 4096) = 2 <0.000001>',
      '10 1.000003 <... fsync resumed>) = 0 <0.000002>',
      '12 1.000004 --- SIGCHLD {si_signo=SIGCHLD} ---',
      '12 1.000005 +++ exited with 0 +++',
    ]) p.push(l);
    expect(calls.map((c) => [c.name, c.tid, c.start, c.end, c.time])).toEqual([['pwrite64', 11, 1, 1, 1.000002], ['fsync', 10, 0, 2, 1.000003]]);
    expect(exits).toEqual([12]);
    expect(() => p.push('garbage')).toThrow(/not "TID TIME/);
  });
});
