/** Sorting of per-user (track, count) pairs by track id. */

/** LSD radix sort of non-negative int keys (with a value carried along), 11 bits a pass. */
export class PairSorter {
  keys = new Int32Array(1 << 12);
  values = new Int32Array(1 << 12);
  private tmpKeys = new Int32Array(1 << 12);
  private tmpValues = new Int32Array(1 << 12);
  private readonly count = new Int32Array(2048);

  reserve(n: number): void {
    if (this.keys.length >= n) return;
    const size = Math.max(n, this.keys.length * 2);
    this.keys = new Int32Array(size);
    this.values = new Int32Array(size);
    this.tmpKeys = new Int32Array(size);
    this.tmpValues = new Int32Array(size);
  }

  /** Sorts keys[0..n) (each < 2^bits) ascending, stable, permuting values alike; the result is in keys/values. */
  sort(n: number, bits: number): void {
    const count = this.count;
    for (let shift = 0; shift < bits; shift += 11) {
      const { keys, values, tmpKeys, tmpValues } = this;
      count.fill(0);
      for (let k = 0; k < n; k++) count[(keys[k] >>> shift) & 2047]++;
      let sum = 0;
      for (let b = 0; b < 2048; b++) {
        const c = count[b];
        count[b] = sum;
        sum += c;
      }
      for (let k = 0; k < n; k++) {
        const d = count[(keys[k] >>> shift) & 2047]++;
        tmpKeys[d] = keys[k];
        tmpValues[d] = values[k];
      }
      this.keys = tmpKeys;
      this.values = tmpValues;
      this.tmpKeys = keys;
      this.tmpValues = values;
    }
  }
}
