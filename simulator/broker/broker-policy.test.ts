import { describe, expect, it } from 'vitest';
import { bulkClientId } from '../../protocol/index.js';
import { checkPlatformUsers, identify, mayPublish, mayReceive, maySubscribe, type BrokerIdentity } from './broker-policy.js';

const platformUsers = new Set(['ingest.nrec']);
const control: BrokerIdentity = { role: 'device', deviceId: 'dev-a', connection: 'control' };
const bulk: BrokerIdentity = { role: 'device', deviceId: 'dev-a', connection: 'bulk' };
const platform: BrokerIdentity = { role: 'platform', username: 'ingest.nrec' };

describe('embedded broker policy', () => {
  it('takes the identity from the username and binds the client id to it', () => {
    expect(identify('dev-a', 'dev-a', platformUsers)).toEqual({ ok: true, identity: control });
    expect(identify('dev-a', bulkClientId('dev-a'), platformUsers)).toEqual({ ok: true, identity: bulk });
    expect(identify('ingest.nrec', 'nrec-ingest-anything', platformUsers)).toEqual({ ok: true, identity: platform });
    for (const id of ['nrec-ingest-x', 'dev-b', 'dev-a-bulk', bulkClientId('dev-b'), '']) expect(identify('dev-a', id, platformUsers).ok, id).toBe(false);
    expect(identify('some.user', 'some.user', platformUsers).ok).toBe(false);
  });

  it('refuses platform user names a device could have', () => {
    expect(() => checkPlatformUsers(['nrec-ingest'])).toThrow(/valid deviceId/);
    expect(() => checkPlatformUsers([])).toThrow(/at least one/);
    expect(() => checkPlatformUsers(['ingest.nrec'])).not.toThrow();
  });

  it('lets each connection publish only what it carries', () => {
    const cases: Array<[BrokerIdentity, string, boolean]> = [
      [control, 'nrec/v1/dev-a/alarm', true],
      [control, 'nrec/v1/dev-a/location/batch', true],
      [control, 'nrec/v1/dev-a/media/manifest', true],
      [control, 'nrec/v1/dev-b/alarm', false],
      [control, 'nrec/v1/dev-a/cmd/ack', false],
      [control, 'nrec/v1/dev-b/cmd/ack', false],
      [control, 'nrec/v1/dev-a/bogus', false],
      [control, '$SYS/broker', false],
      [bulk, 'nrec/v1/dev-a/media/part', true],
      [bulk, 'nrec/v1/dev-a/media/chunk', true],
      [bulk, 'nrec/v1/dev-a/media/manifest', false],
      [bulk, 'nrec/v1/dev-a/alarm', false],
      [bulk, 'nrec/v1/dev-b/media/part', false],
      [platform, 'nrec/v1/dev-a/cmd/req', true],
      [platform, 'nrec/v1/dev-b/cmd/ack', true],
      [platform, 'nrec/v1/dev-a/alarm', false],
    ];
    for (const [who, topic, ok] of cases) expect(mayPublish(who, topic).ok, `${JSON.stringify(who)} ${topic}`).toBe(ok);
  });

  it('lets a device subscribe only below its own cmd/, the bulk connection to nothing', () => {
    const cases: Array<[BrokerIdentity, string, boolean]> = [
      [control, 'nrec/v1/dev-a/cmd/#', true],
      [control, 'nrec/v1/dev-a/cmd/+', true],
      [control, 'nrec/v1/dev-a/cmd/ack', true],
      [control, 'nrec/v1/dev-a/cmd', false],
      [control, 'nrec/v1/dev-a/#', false],
      [control, 'nrec/v1/+/cmd/#', false],
      [control, 'nrec/v1/dev-b/cmd/#', false],
      [control, '$share/g/nrec/v1/dev-a/cmd/#', false],
      [control, '#', false],
      [bulk, 'nrec/v1/dev-a/cmd/#', false],
      [platform, 'nrec/v1/+/#', true],
      [platform, '#', false],
    ];
    for (const [who, filter, ok] of cases) expect(maySubscribe(who, filter).ok, `${JSON.stringify(who)} ${filter}`).toBe(ok);
    expect(mayReceive(control, 'nrec/v1/dev-a/cmd/req')).toBe(true);
    expect(mayReceive(control, 'nrec/v1/dev-b/cmd/req')).toBe(false);
    expect(mayReceive(bulk, 'nrec/v1/dev-a/cmd/req')).toBe(false);
    expect(mayReceive(platform, 'nrec/v1/dev-b/alarm')).toBe(true);
  });
});
