// The cron schedule as Kubernetes reads `spec.schedule` (robfig/cron v3's ParseStandard): five fields
// (minute, hour, day of month, month, day of week) of values, names (jan…dec, sun…sat), ranges,
// steps, lists, `*`/`?`; the descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly
// and `@every <duration>`; `CRON_TZ=`/`TZ=` prefixes. Day of month and day of week: when both are
// restricted a day matching either runs (as cron does). Pure: times are epoch milliseconds, wall
// clocks are computed in UTC or in an IANA zone (`spec.timeZone`) through Intl.

export class CronSyntaxError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

interface Field {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}
const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** A parsed schedule: the allowed values of each field, or a constant delay (`@every`). */
export type Schedule =
  | {
      readonly kind: 'cron';
      readonly minutes: ReadonlySet<number>;
      readonly hours: ReadonlySet<number>;
      readonly doms: ReadonlySet<number>;
      readonly months: ReadonlySet<number>;
      readonly dows: ReadonlySet<number>;
      /** The day-of-month or day-of-week field was `*`/`?` (robfig's star bit): both must match then. */
      readonly domStar: boolean;
      readonly dowStar: boolean;
      readonly timeZone?: string;
    }
  | { readonly kind: 'every'; readonly delayMs: number; readonly timeZone?: string };

function value(t: string, f: Field): number {
  const n = f.names?.indexOf(t.toLowerCase()) ?? -1;
  if (n >= 0) return n + f.min;
  if (!/^\d+$/.test(t)) throw new CronSyntaxError(`failed to parse int from ${t}: strconv.Atoi: parsing ${JSON.stringify(t)}: invalid syntax`);
  return Number(t);
}

/** One comma-separated part of a field: its values, and whether it was a bare `*`/`?` (a step > 1 clears that). */
function part(expr: string, f: Field): { values: number[]; star: boolean } {
  const rangeAndStep = expr.split('/');
  if (rangeAndStep.length > 2) throw new CronSyntaxError(`too many slashes: ${expr}`);
  const lowHigh = (rangeAndStep[0] ?? '').split('-');
  let lo: number;
  let hi: number;
  let star = false;
  if (lowHigh[0] === '*' || lowHigh[0] === '?') {
    if (lowHigh.length > 1) throw new CronSyntaxError(`too many hyphens: ${expr}`);
    lo = f.min;
    hi = f.max;
    star = true;
  } else {
    if (lowHigh.length > 2) throw new CronSyntaxError(`too many hyphens: ${expr}`);
    lo = value(lowHigh[0] ?? '', f);
    hi = lowHigh.length === 2 ? value(lowHigh[1] ?? '', f) : lo;
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = value(rangeAndStep[1] ?? '', { ...f, names: [] });
    // "N/step" means "N-max/step".
    if (lowHigh.length === 1) hi = f.max;
    if (step > 1) star = false;
  }
  if (lo < f.min) throw new CronSyntaxError(`beginning of range (${lo}) below minimum (${f.min}): ${expr}`);
  if (hi > f.max) throw new CronSyntaxError(`end of range (${hi}) above maximum (${f.max}): ${expr}`);
  if (lo > hi) throw new CronSyntaxError(`beginning of range (${lo}) beyond end of range (${hi}): ${expr}`);
  if (step === 0) throw new CronSyntaxError(`step of range should be a positive number: ${expr}`);
  const values: number[] = [];
  for (let v = lo; v <= hi; v += step) values.push(v);
  return { values, star };
}

function field(expr: string, f: Field): { set: Set<number>; star: boolean } {
  const set = new Set<number>();
  let star = false;
  for (const p of expr.split(',')) {
    const r = part(p, f);
    r.values.forEach((v) => set.add(v));
    star ||= r.star;
  }
  return { set, star };
}

const UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, for `@every` (e.g. `1h30m`, `90s`, `1.5h`). */
export function parseGoDuration(s: string): number {
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let at = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    ms += Number(m[1]) * (UNITS[m[2] ?? ''] ?? 0);
    at = re.lastIndex;
  }
  if (s === '' || at !== s.length) throw new CronSyntaxError(`failed to parse duration ${s}`);
  return ms;
}

/** A valid IANA zone (as time.LoadLocation would find it), or throws. */
function checkZone(tz: string): string {
  if (tz === 'UTC' || tz === 'Local') return tz === 'Local' ? 'UTC' : tz;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    throw new CronSyntaxError(`provided bad location ${tz}: unknown time zone ${tz}`);
  }
}

/** Pure: parse a schedule as ParseStandard does; `timeZone` is the CronJob's `spec.timeZone`. Throws CronSyntaxError. */
export function parseSchedule(spec: string, timeZone?: string): Schedule {
  let s = spec.trim();
  let tz = timeZone !== undefined ? checkZone(timeZone) : undefined;
  const m = /^(?:CRON_TZ|TZ)=(\S+)\s+/.exec(s);
  if (m) {
    tz = checkZone(m[1] ?? '');
    s = s.slice(m[0].length).trim();
  }
  const zone = tz !== undefined && tz !== 'UTC' ? { timeZone: tz } : {};
  if (s.startsWith('@')) {
    if (s.startsWith('@every ')) {
      const ms = parseGoDuration(s.slice(7).trim());
      // robfig: every schedule runs at least a second apart, on whole seconds.
      return { kind: 'every', delayMs: Math.max(1000, Math.floor(ms / 1000) * 1000), ...zone };
    }
    const d = DESCRIPTORS[s];
    if (!d) throw new CronSyntaxError(`unrecognized descriptor: ${s}`);
    s = d;
  }
  const parts = s.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) throw new CronSyntaxError(`expected exactly 5 fields, found ${parts.length}: [${parts.join(' ')}]`);
  const [mi, h, dom, mo, dow] = parts.map((p, i) => field(p, FIELDS[i]!));
  return { kind: 'cron', minutes: mi!.set, hours: h!.set, doms: dom!.set, months: mo!.set, dows: dow!.set, domStar: dom!.star, dowStar: dow!.star, ...zone };
}

// ---------------------------------------------------------------- wall clocks

interface Wall {
  y: number;
  mo: number; // 1..12
  d: number;
  h: number;
  mi: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function wallOf(t: number, tz: string | undefined): Wall {
  if (tz === undefined) {
    const x = new Date(t);
    return { y: x.getUTCFullYear(), mo: x.getUTCMonth() + 1, d: x.getUTCDate(), h: x.getUTCHours(), mi: x.getUTCMinutes() };
  }
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
    formatters.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(t).map((x) => [x.type, Number(x.value)]));
  return { y: p.year ?? 1970, mo: p.month ?? 1, d: p.day ?? 1, h: p.hour ?? 0, mi: p.minute ?? 0 };
}

const naive = (w: Wall): number => Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi);

/** The instants whose wall clock in `tz` is `w`: none in a spring-forward gap, two in a fall-back overlap (earliest first). */
function instantsOf(w: Wall, tz: string | undefined): number[] {
  const guess = naive(w);
  if (tz === undefined) return [guess];
  const out = new Set<number>();
  // The zone's offset is within ±14 h and changes at most once near a given wall time: try the offsets seen around it.
  for (const probe of [guess - 86_400_000, guess, guess + 86_400_000]) {
    const offset = naive(wallOf(probe, tz)) - Math.floor(probe / 60_000) * 60_000;
    const t = guess - offset;
    if (naive(wallOf(t, tz)) === guess) out.add(t);
  }
  return [...out].sort((a, b) => a - b);
}

const daysIn = (y: number, mo: number): number => new Date(Date.UTC(y, mo, 0)).getUTCDate();

/** Pure: robfig's dayMatches. */
function dayMatches(s: Extract<Schedule, { kind: 'cron' }>, w: Wall): boolean {
  const domOk = s.doms.has(w.d);
  const dowOk = s.dows.has(new Date(Date.UTC(w.y, w.mo - 1, w.d)).getUTCDay());
  return s.domStar || s.dowStar ? domOk && dowOk : domOk || dowOk;
}

/** Give up after this many years without a match (robfig: five), e.g. `0 0 30 2 *`. */
const YEARS_LIMIT = 5;

/** The first wall time after `w` (exclusive, minute granularity) that the schedule matches, or undefined. */
function nextWall(s: Extract<Schedule, { kind: 'cron' }>, from: Wall): Wall | undefined {
  const w: Wall = { ...from };
  // One minute later; carry through the fields by normalising with Date.UTC.
  const bump = (x: Wall): Wall => {
    const d = new Date(naive(x));
    return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes() };
  };
  let cur = bump({ ...w, mi: w.mi + 1 });
  const limit = from.y + YEARS_LIMIT;
  // Bounded: every pass moves forward by at least a minute and the field skips keep it to a few hundred passes a year.
  for (let i = 0; i < 100_000 && cur.y <= limit; i++) {
    if (!s.months.has(cur.mo)) {
      cur = bump({ y: cur.y, mo: cur.mo + 1, d: 1, h: 0, mi: 0 });
      continue;
    }
    if (cur.d > daysIn(cur.y, cur.mo) || !dayMatches(s, cur)) {
      cur = bump({ ...cur, d: cur.d + 1, h: 0, mi: 0 });
      continue;
    }
    if (!s.hours.has(cur.h)) {
      cur = bump({ ...cur, h: cur.h + 1, mi: 0 });
      continue;
    }
    if (!s.minutes.has(cur.mi)) {
      cur = bump({ ...cur, mi: cur.mi + 1 });
      continue;
    }
    return cur;
  }
  return undefined;
}

/** Pure: the first activation strictly after `t` (ms), or undefined when there is none within five years. */
export function nextAfter(s: Schedule, t: number): number | undefined {
  if (s.kind === 'every') return Math.floor(t / 1000) * 1000 + s.delayMs;
  let from = wallOf(t, s.timeZone);
  // Bounded: each pass takes a later wall time; a wall time in a DST gap has no instant and is skipped.
  for (let i = 0; i < 1000; i++) {
    const w = nextWall(s, from);
    if (!w) return undefined;
    const at = instantsOf(w, s.timeZone).find((x) => x > t);
    if (at !== undefined) return at;
    from = w;
  }
  return undefined;
}

export interface MostRecent {
  /** The latest activation in (earliest, now], if any. */
  readonly time?: number;
  /** How many activations were missed in (earliest, now]; `101` stands for "more than 100". */
  readonly missed: number;
}

/**
 * Pure: mostRecentScheduleTime: the latest activation after `earliest` and not after `now`, and how
 * many there were (Kubernetes warns past 100). Windows that grow from an hour back keep a long
 * outage (a every-minute schedule not run for a year) from walking every minute since.
 */
export function mostRecentScheduleTime(s: Schedule, earliest: number, now: number): MostRecent {
  if (earliest > now) return { missed: 0 };
  let count = 0;
  let last: number | undefined;
  for (let t = nextAfter(s, earliest); t !== undefined && t <= now && count <= 100; t = nextAfter(s, t)) {
    count++;
    last = t;
  }
  if (count <= 100) return { ...(last !== undefined && { time: last }), missed: count };
  for (const windowMs of [3_600_000, 86_400_000, 32 * 86_400_000, 367 * 86_400_000, 6 * 366 * 86_400_000]) {
    let found: number | undefined;
    let n = 0;
    for (let t = nextAfter(s, Math.max(earliest, now - windowMs)); t !== undefined && t <= now && n < 2000; t = nextAfter(s, t)) {
      found = t;
      n++;
    }
    if (found !== undefined && n < 2000) return { time: found, missed: 101 };
  }
  return { ...(last !== undefined && { time: last }), missed: 101 };
}
