import type { DeviceStream } from '../../protocol/index.js';
import {
  HEALTH_COLUMNS,
  POSITION_COLUMNS,
  prefixed,
  toAlarm,
  toAlarmHistory,
  toChunk,
  toDevice,
  toEvent,
  toHealth,
  toPosition,
  toResult,
  toVisit,
  type Codec,
  type Row,
} from './rows.js';
import { TOKEN_GET, TOKEN_LIST, toToken, type ApiTokenRecord } from './tokens.js';
import type { StoreCounts, StoredMessage } from './types.js';
import type { AlarmDetail, AlarmView, ChunkView, DeviceView, EventView, HealthView, PositionView, ResultView, TimeRange, VisitView } from './views.js';

/*
 * The read side, written once for both back-ends: SQL common to SQLite and
 * PostgreSQL with `?` placeholders (the PostgreSQL back-end numbers them),
 * rows turned into views by rows.ts. A back-end supplies how to run a query,
 * how its JSON columns arrive, and the column that orders rows of one
 * receipt time.
 */

const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 100_000;
/** BIGINT bounds wide enough for any epoch ms, so a missing bound still uses the index. */
const MIN_TIME = -Number.MAX_SAFE_INTEGER;
const MAX_TIME = Number.MAX_SAFE_INTEGER;

function bounds(r: TimeRange = {}): { from: number; to: number; limit: number; dir: 'ASC' | 'DESC' } {
  const limit = r.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new Error(`limit ${limit} must be an integer from 1 to ${MAX_LIMIT}`);
  return { from: r.from ?? MIN_TIME, to: r.to ?? MAX_TIME, limit, dir: r.order === 'desc' ? 'DESC' : 'ASC' };
}

const DEVICE_SELECT = `SELECT d.*, ${prefixed('p', 'p_', POSITION_COLUMNS)}, ${prefixed('h', 'h_', HEALTH_COLUMNS)}
FROM devices d
LEFT JOIN positions p ON p.device_id = d.id AND p.msg_id = d.last_position_id
LEFT JOIN health h ON h.device_id = d.id AND h.msg_id = d.last_health_id`;

export abstract class StoreReader {
  protected abstract readonly codec: Codec;
  /** Orders messages and rejections of one receipt time (rowid in SQLite, n in PostgreSQL). */
  protected abstract readonly orderColumn: string;
  /** Runs a read with `?` placeholders. */
  protected abstract read(sql: string, params: readonly unknown[]): Promise<Row[]>;

  async messages(deviceId: string, stream: DeviceStream): Promise<StoredMessage[]> {
    const rows = await this.read(`SELECT rx, topic, body FROM messages WHERE device_id = ? AND stream = ? ORDER BY rx, ${this.orderColumn}`, [deviceId, stream]);
    return rows.map((r) => ({ rx: Number(r.rx), topic: String(r.topic), m: JSON.parse(String(r.body)) as StoredMessage['m'] }));
  }

  async rejected(): Promise<Array<{ rx: number; topic: string; deviceId?: string; category: string; detail: string; msgId?: string; payload: string }>> {
    const rows = await this.read(`SELECT rx, topic, device_id, category, detail, msg_id, payload FROM rejected ORDER BY rx, ${this.orderColumn}`, []);
    return rows.map((r) => {
      const out: { rx: number; topic: string; deviceId?: string; category: string; detail: string; msgId?: string; payload: string } = {
        rx: Number(r.rx), topic: String(r.topic), category: String(r.category), detail: String(r.detail), payload: Buffer.from(r.payload as Uint8Array).toString('utf8'),
      };
      if (r.device_id !== null) out.deviceId = String(r.device_id);
      if (r.msg_id !== null) out.msgId = String(r.msg_id);
      return out;
    });
  }

  async counts(): Promise<StoreCounts> {
    const [devices] = await this.read('SELECT COUNT(*) AS n FROM devices WHERE first_seen IS NOT NULL', []);
    const streams = await this.read('SELECT stream, COUNT(*) AS n FROM messages GROUP BY stream', []);
    const reasons = await this.read('SELECT category, COUNT(*) AS n FROM rejected GROUP BY category', []);
    const messages: Record<string, number> = {};
    for (const r of streams) messages[String(r.stream)] = Number(r.n);
    const rejectReasons: Record<string, number> = {};
    let rejected = 0;
    for (const r of reasons) {
      rejectReasons[String(r.category)] = Number(r.n);
      rejected += Number(r.n);
    }
    return { devices: Number(devices.n), messages, rejected, rejectReasons };
  }

  async deviceKey(deviceId: string): Promise<string | undefined> {
    const [r] = await this.read('SELECT public_key FROM devices WHERE id = ?', [deviceId]);
    return r?.public_key === null || r?.public_key === undefined ? undefined : String(r.public_key);
  }

  async devices(): Promise<DeviceView[]> {
    return (await this.read(`${DEVICE_SELECT} ORDER BY d.id`, [])).map((r) => toDevice(r, this.codec));
  }

  async device(deviceId: string): Promise<DeviceView | undefined> {
    const [r] = await this.read(`${DEVICE_SELECT} WHERE d.id = ?`, [deviceId]);
    return r === undefined ? undefined : toDevice(r, this.codec);
  }

  async positions(deviceId: string, range?: TimeRange): Promise<PositionView[]> {
    const b = bounds(range);
    const rows = await this.read(
      `SELECT ${POSITION_COLUMNS.join(', ')} FROM positions WHERE device_id = ? AND fix_time >= ? AND fix_time < ? ORDER BY fix_time ${b.dir}, msg_id ${b.dir} LIMIT ?`,
      [deviceId, b.from, b.to, b.limit],
    );
    return rows.map((r) => toPosition(r));
  }

  async events(range: TimeRange & { deviceId?: string; kind?: string } = {}): Promise<EventView[]> {
    const b = bounds(range);
    const where = ['ts >= ?', 'ts < ?'];
    const params: unknown[] = [b.from, b.to];
    if (range.deviceId !== undefined) {
      where.unshift('device_id = ?');
      params.unshift(range.deviceId);
    }
    if (range.kind !== undefined) {
      where.push('kind = ?');
      params.push(range.kind);
    }
    const rows = await this.read(`SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY ts ${b.dir}, device_id, msg_id LIMIT ?`, [...params, b.limit]);
    return rows.map((r) => toEvent(r, this.codec));
  }

  async health(deviceId: string, range?: TimeRange): Promise<HealthView[]> {
    const b = bounds(range);
    const rows = await this.read(`SELECT * FROM health WHERE device_id = ? AND ts >= ? AND ts < ? ORDER BY ts ${b.dir}, msg_id ${b.dir} LIMIT ?`, [deviceId, b.from, b.to, b.limit]);
    return rows.map((r) => toHealth(r, this.codec));
  }

  async openAlarms(): Promise<AlarmView[]> {
    const rows = await this.read('SELECT * FROM alarms WHERE state_rank < 2 ORDER BY raised_at, device_id, alarm_id', []);
    return rows.map((r) => toAlarm(r, this.codec));
  }

  async alarms(range: TimeRange & { deviceId?: string } = {}): Promise<AlarmView[]> {
    const b = bounds(range);
    const byDevice = range.deviceId !== undefined;
    const rows = await this.read(
      `SELECT * FROM alarms WHERE ${byDevice ? 'device_id = ? AND ' : ''}raised_at >= ? AND raised_at < ? ORDER BY raised_at ${b.dir}, device_id, alarm_id LIMIT ?`,
      [...(byDevice ? [range.deviceId] : []), b.from, b.to, b.limit],
    );
    return rows.map((r) => toAlarm(r, this.codec));
  }

  async alarm(deviceId: string, alarmId: string): Promise<AlarmDetail | undefined> {
    const [r] = await this.read('SELECT * FROM alarms WHERE device_id = ? AND alarm_id = ?', [deviceId, alarmId]);
    if (r === undefined) return undefined;
    const history = await this.read('SELECT * FROM alarm_history WHERE device_id = ? AND alarm_id = ? ORDER BY rx, seq, msg_id', [deviceId, alarmId]);
    return { ...toAlarm(r, this.codec), history: history.map(toAlarmHistory) };
  }

  async findAlarms(alarmId: string): Promise<AlarmView[]> {
    return (await this.read('SELECT * FROM alarms WHERE alarm_id = ? ORDER BY device_id', [alarmId])).map((r) => toAlarm(r, this.codec));
  }

  async results(requestId: string): Promise<ResultView[]> {
    return (await this.read('SELECT * FROM results WHERE request_id = ? ORDER BY rx, device_id', [requestId])).map((r) => toResult(r, this.codec));
  }

  async visits(deviceId: string, range?: TimeRange): Promise<VisitView[]> {
    const b = bounds(range);
    const rows = await this.read(
      `SELECT * FROM visits WHERE device_id = ? AND COALESCE(started_at, 0) < ? AND COALESCE(ended_at, started_at, 0) >= ? ORDER BY started_at ${b.dir}, session_id LIMIT ?`,
      [deviceId, b.to, b.from, b.limit],
    );
    return this.#withChunks(deviceId, rows);
  }

  async visit(deviceId: string, sessionId: string): Promise<VisitView | undefined> {
    const rows = await this.read('SELECT * FROM visits WHERE device_id = ? AND session_id = ?', [deviceId, sessionId]);
    return (await this.#withChunks(deviceId, rows))[0];
  }

  async token(id: string): Promise<ApiTokenRecord | undefined> {
    const [r] = await this.read(TOKEN_GET, [id]);
    return r === undefined ? undefined : toToken(r);
  }

  async tokens(): Promise<ApiTokenRecord[]> {
    return (await this.read(TOKEN_LIST, [])).map(toToken);
  }

  async #withChunks(deviceId: string, visits: Row[]): Promise<VisitView[]> {
    const by = new Map<string, ChunkView[]>();
    for (const v of visits) by.set(String(v.session_id), []);
    const ids = [...by.keys()];
    // In groups: both databases cap the number of parameters of one statement.
    for (let i = 0; i < ids.length; i += 500) {
      const group = ids.slice(i, i + 500);
      const chunks = await this.read(`SELECT * FROM chunks WHERE device_id = ? AND session_id IN (${group.map(() => '?').join(', ')}) ORDER BY session_id, idx`, [deviceId, ...group]);
      for (const c of chunks) by.get(String(c.session_id))!.push(toChunk(c));
    }
    return visits.map((v) => toVisit(v, by.get(String(v.session_id))!));
  }
}
