import { describe, expect, it } from 'vitest';
import { buildCapturePlan, chunkIndexOf, DEFAULT_CAPTURE, parseEncoderList, type CaptureSettings } from './capture-profiles.js';
import { parseSegmentLine, SegmentListParser } from './segment-list.js';

const base: CaptureSettings = { ...DEFAULT_CAPTURE, width: 640, height: 480, fps: 15, chunkS: 10 };

/** The value following a flag in an argument list. */
const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('capture profiles', () => {
  it('sim: real-time lavfi test picture and tone, forced keyframes on the chunk grid, segment list on stdout', () => {
    const p = buildCapturePlan('/usr/bin/ffmpeg', { ...base, profile: 'sim', chunkS: 2, width: 320, height: 240, fps: 10 }, '/data/chunks', 42);
    expect(p.commands).toHaveLength(1);
    const a = p.commands[0].args;
    expect(p.commands[0].cmd).toBe('/usr/bin/ffmpeg');
    expect(a.filter((x) => x === '-re')).toHaveLength(2);
    expect(a).toContain('testsrc2=size=320x240:rate=10');
    expect(a).toContain('sine=frequency=1000:sample_rate=16000');
    expect(after(a, '-force_key_frames')).toBe('expr:gte(t,n_forced*2)');
    expect(after(a, '-g')).toBe('20');
    expect(after(a, '-c:v')).toBe('libx264');
    expect(after(a, '-segment_time')).toBe('2');
    expect(after(a, '-segment_format')).toBe('mpegts');
    expect(after(a, '-segment_list')).toBe('pipe:1');
    expect(after(a, '-segment_list_type')).toBe('csv');
    expect(after(a, '-segment_start_number')).toBe('42');
    expect(a.at(-1)).toBe('/data/chunks/chunk-%06d.ts');
    expect(p.gracefulStop).toBe('q');
    expect(p.devices).toEqual([]);
  });

  it('usb: v4l2 camera and ALSA mic, the device listed so a missing camera is caught before spawning', () => {
    const p = buildCapturePlan('ffmpeg', { ...base, profile: 'usb', videoDevice: '/dev/video2', audioDevice: 'hw:1,0', encoder: 'h264_v4l2m2m' }, '/c', 0);
    const a = p.commands[0].args;
    expect(after(a, '-f')).toBe('v4l2');
    expect(a).toContain('/dev/video2');
    expect(a[a.lastIndexOf('-i') + 1]).toBe('hw:1,0');
    expect(after(a, '-c:v')).toBe('h264_v4l2m2m');
    expect(a).not.toContain('libx264');
    expect(after(a, '-c:a')).toBe('aac');
    expect(p.devices).toEqual(['/dev/video2']);
    expect(p.codec).toBe('mpegts/h264/aac');
  });

  it('csi: rpicam-vid writes H.264 to stdout with the intra period on the chunk grid; ffmpeg copies from stdin', () => {
    const p = buildCapturePlan('ffmpeg', { ...base, profile: 'csi', withAudio: false }, '/c', 0);
    expect(p.commands.map((c) => c.cmd)).toEqual(['rpicam-vid', 'ffmpeg']);
    const [cam, ff] = p.commands.map((c) => c.args);
    expect(after(cam, '-o')).toBe('-');
    expect(after(cam, '--intra')).toBe('150');
    expect(after(ff, '-i')).toBe('pipe:0');
    expect(after(ff, '-c:v')).toBe('copy');
    expect(ff).toContain('-an');
    expect(p.gracefulStop).toBe('sigint-source');
  });

  it('audio: ALSA only, AAC or Opus', () => {
    const aac = buildCapturePlan('ffmpeg', { ...base, profile: 'audio' }, '/c', 0);
    expect(aac.commands[0].args).toContain('-vn');
    expect(aac.codec).toBe('mpegts/aac');
    const opus = buildCapturePlan('ffmpeg', { ...base, profile: 'audio', audioCodec: 'opus' }, '/c', 0);
    expect(after(opus.commands[0].args, '-c:a')).toBe('libopus');
    expect(opus.codec).toBe('mpegts/opus');
  });

  it('refuses settings that would make a broken command line, naming the setting', () => {
    expect(() => buildCapturePlan('ffmpeg', { ...base, profile: 'sim', chunkS: 0 }, '/c', 0)).toThrow(/chunkS=0 must be a positive number/);
    expect(() => buildCapturePlan('ffmpeg', { ...base, profile: 'usb', videoDevice: 'video0' }, '/c', 0)).toThrow(/videoDevice="video0"/);
  });

  it('reads encoder names from ffmpeg -encoders output and chunk indexes from file names', () => {
    const text = 'Encoders:\n V..... = Video\n ------\n V....D libx264              libx264 H.264\n V..... h264_v4l2m2m         V4L2 mem2mem H.264 encoder wrapper (codec h264)\n A..... aac                  AAC\n';
    expect([...parseEncoderList(text)]).toEqual(['libx264', 'h264_v4l2m2m', 'aac']);
    expect(chunkIndexOf('chunk-000123.ts')).toBe(123);
    expect(chunkIndexOf('chunk-1.ts')).toBeUndefined();
    expect(chunkIndexOf('other.ts')).toBeUndefined();
  });
});

describe('segment list', () => {
  it('assembles lines split across pipe reads and parses quoted names', () => {
    const p = new SegmentListParser();
    expect(p.push('chunk-000000.ts,0.000000,2.0')).toEqual({ entries: [], errors: [] });
    expect(p.push('64000\nchunk-000001.ts,2.064000,4.064000\n"a,""b"".ts",4.1,5\n').entries).toEqual([
      { file: 'chunk-000000.ts', startS: 0, endS: 2.064 },
      { file: 'chunk-000001.ts', startS: 2.064, endS: 4.064 },
      { file: 'a,"b".ts', startS: 4.1, endS: 5 },
    ]);
  });

  it('reports lines it cannot read instead of inventing chunks', () => {
    expect(parseSegmentLine('chunk.ts')).toMatch(/no times/);
    expect(parseSegmentLine('chunk.ts,1,x')).toMatch(/bad times/);
    expect(parseSegmentLine('chunk.ts,3,2')).toMatch(/bad times/);
    expect(parseSegmentLine('"chunk.ts,1,2')).toMatch(/unterminated quote/);
    expect(new SegmentListParser().push('garbage\n').errors).toHaveLength(1);
  });
});
