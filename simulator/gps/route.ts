/** A walking route through a residential district (Setagaya, Tokyo): real-looking coordinates. */
export const DEFAULT_ROUTE: ReadonlyArray<readonly [number, number]> = [
  [35.646_72, 139.653_31],
  [35.647_41, 139.654_86],
  [35.648_55, 139.655_12],
  [35.649_02, 139.653_77],
  [35.648_16, 139.652_24],
  [35.646_95, 139.652_61],
];

const R = 6_371_000;
const rad = (d: number) => (d * Math.PI) / 180;

/** Great-circle distance in metres. */
export function haversineM(a: readonly [number, number], b: readonly [number, number]): number {
  const dLat = rad(b[0] - a[0]);
  const dLon = rad(b[1] - a[1]);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a[0])) * Math.cos(rad(b[0])) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(h));
}

function bearingDeg(a: readonly [number, number], b: readonly [number, number]): number {
  const y = Math.sin(rad(b[1] - a[1])) * Math.cos(rad(b[0]));
  const x = Math.cos(rad(a[0])) * Math.sin(rad(b[0])) - Math.sin(rad(a[0])) * Math.cos(rad(b[0])) * Math.cos(rad(b[1] - a[1]));
  return ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;
}

/**
 * Positions along a closed route at a given speed, one per step: the nurse
 * walking between patients. Linear interpolation is exact enough at street scale.
 */
export class RouteWalker {
  readonly #route: ReadonlyArray<readonly [number, number]>;
  readonly #speed: number;
  #leg = 0;
  #along = 0;

  constructor(route: ReadonlyArray<readonly [number, number]> = DEFAULT_ROUTE, speedMps = 1.4) {
    this.#route = route;
    this.#speed = speedMps;
  }

  /** Advances by `dtS` seconds; returns the new position, speed and course. */
  step(dtS: number): { lat: number; lon: number; speedMps: number; courseDeg: number } {
    let remaining = this.#speed * dtS;
    for (;;) {
      const a = this.#route[this.#leg];
      const b = this.#route[(this.#leg + 1) % this.#route.length];
      const len = haversineM(a, b);
      if (this.#along + remaining <= len) {
        this.#along += remaining;
        const f = this.#along / len;
        return { lat: a[0] + (b[0] - a[0]) * f, lon: a[1] + (b[1] - a[1]) * f, speedMps: this.#speed, courseDeg: bearingDeg(a, b) };
      }
      remaining -= len - this.#along;
      this.#along = 0;
      this.#leg = (this.#leg + 1) % this.#route.length;
    }
  }
}
